# fleetgroups — every task a developer or CI runs goes through here.
# `make run` serves the API locally; `make test` runs every check and test.
# Both fetch and start DynamoDB Local themselves (see pkg/ddblocal).

# The Go release everything is built and tested with (go.mod's toolchain
# line). A machine starts on its own Go and would ignore that line where
# GOTOOLCHAIN=local, so it is exported here; the go command fetches it from
# the module proxy once per machine.
export GOTOOLCHAIN := go1.27.3

GO        ?= go
BUILD_DIR ?= build
# Every Lambda has a folder under functions/; the route table test keeps the
# two in step.
FUNCTIONS := $(notdir $(wildcard functions/*))
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"
CDK_CLI   ?= npx --yes aws-cdk@2.1148.1
OP        ?= create-group
ADDR      ?= 127.0.0.1:3000

# Linters and govulncheck are pinned in tools/go.mod (a module of their own,
# so they add nothing to the main go.mod) and run with `go tool`.
TOOL      := $(GO) tool -modfile=tools/go.mod

# go test flags for every test run; e.g. make test TEST_FLAGS='-count=1 -v'.
TEST_FLAGS ?= -count=1 -timeout 9m
# Packages whose tests run under the race detector, instead of in the plain
# run: a -race run checks all that a plain one does.
RACE_PKGS := ./pkg/api ./pkg/store
MODULE    := github.com/fleetgroups/fleetgroups

.PHONY: run test check fmt-check vet lint lambda-check go-test build clean invoke synth deploy template fmt bench

run: ## serve the API on http://$(ADDR) with DynamoDB Local: make run ADDR=127.0.0.1:8080
	$(GO) run ./cmd/local -addr $(ADDR)

test: check ## the static checks, then every test against one DynamoDB Local
	$(GO) run ./cmd/withddb $(MAKE) --no-print-directory go-test

# go-test runs under cmd/withddb, which exports DYNAMODB_ENDPOINT: every
# package's TestMain then uses that one emulator instead of starting its own.
go-test:
	$(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -vxF $(RACE_PKGS:./%=-e $(MODULE)/%))
	$(GO) test -race $(TEST_FLAGS) $(RACE_PKGS)

check: fmt-check vet lint lambda-check ## gofmt, go vet, golangci-lint, every Lambda compiles for linux/arm64

fmt-check:
	@out=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change (run make fmt):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: ## golangci-lint with .golangci.yml, pinned in tools/go.mod
	$(TOOL) golangci-lint run ./...

# Type-checks and vets every Lambda as make build compiles it, for Lambda's
# linux/arm64 and with its build tags, without linking 20 binaries; make
# build, synth and deploy build the real ones.
lambda-check:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) vet -tags lambda.norpc ./functions/...

build: $(FUNCTIONS:%=$(BUILD_DIR)/%/bootstrap) ## every Lambda for linux/arm64

$(BUILD_DIR)/%/bootstrap: FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/$*

invoke: ## run one operation's handler on its sample event: make invoke OP=get-group
	$(GO) run ./cmd/invoke -op $(OP) -event events/$(OP).json

template: ## regenerate template.yaml from the route table
	$(GO) run ./cmd/gensam > template.yaml

synth: build ## synthesise the CDK stack (offline)
	cd infra && $(CDK_CLI) synth

deploy: build ## deploy the CDK stack to the current AWS account
	cd infra && $(CDK_CLI) deploy

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	"$$($(GO) env GOROOT)/bin/gofmt" -w $$(git ls-files '*.go')

clean:
	rm -rf $(BUILD_DIR) infra/cdk.out

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set
# (template.yaml: BuildMethod: makefile). The logical ids come from the
# route table (routes.LogicalName + "Function").
build-%Function:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z')

FORCE:
