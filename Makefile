# fleetgroups — every task a developer or CI runs goes through here.
# `make run` serves the API locally; `make test` runs every test. Both fetch
# and start DynamoDB Local themselves (see pkg/ddblocal).

GO        ?= go
BUILD_DIR ?= build
# Every Lambda has a folder under functions/; the route table test keeps the
# two in step.
FUNCTIONS := $(notdir $(wildcard functions/*))
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"
CDK_CLI   ?= npx --yes aws-cdk@2.1148.1
OP        ?= create-group

.PHONY: run test build clean invoke synth deploy template fmt vet bench fuzz fuzz-brief

run: ## serve the API on http://127.0.0.1:3000 with DynamoDB Local
	$(GO) run ./cmd/local

test: ## every test, against DynamoDB Local started by the tests
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 9m ./...

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

# Fuzzing: go test -fuzz takes one target per run, so each FuzzXxx runs on
# its own for FUZZTIME (the seed corpora in testdata/fuzz also run in every
# plain go test). Targets are found by their declarations rather than with
# go test -list, which would start DynamoDB Local for pkg/gateway just to
# list. FUZZ narrows them by name: make fuzz FUZZ=Cursor FUZZTIME=5m.
FUZZTIME ?= 30s
FUZZ     ?= .
FUZZ_TARGETS = $(shell grep -o '^func Fuzz[A-Za-z0-9_]*' $$(git ls-files '*_test.go') | sed -E 's|^(.*)/[^/]*:func |\1:|' | grep -E ':.*$(FUZZ)')

fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	@failed=; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t%%:*} $${t##*:} for $(FUZZTIME)"; \
		$(GO) test -vet=off -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*} || failed="$$failed $${t##*:}"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (inputs in testdata/fuzz)"; exit 1; fi

# The short pass CI runs (make test calls it): every target for 2s. vet is
# off in these runs because make test has run it already.
fuzz-brief:
	$(MAKE) --no-print-directory fuzz FUZZTIME=2s

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BUILD_DIR) infra/cdk.out

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set
# (template.yaml: BuildMethod: makefile). The logical ids come from the
# route table (routes.LogicalName + "Function").
build-%Function:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z')

FORCE:
