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
# lambda.norpc leaves out aws-lambda-go's RPC mode (provided.al2023 speaks the
# Runtime API); nethttpomithttp2 leaves out net/http's HTTP/2 (~390 KB a
# binary), which nothing a Lambda talks to uses: the Runtime API and
# DynamoDB's endpoints speak HTTP/1.1.
LAMBDA_TAGS  := lambda.norpc,nethttpomithttp2
LAMBDA_FLAGS := -tags $(LAMBDA_TAGS) -trimpath -ldflags "-s -w"
CDK_CLI   ?= npx --yes aws-cdk@2.1148.1
OP        ?= create-group
ADDR      ?= 127.0.0.1:3000

# Linters and govulncheck are pinned in tools/go.mod (a module of their own,
# so they add nothing to the main go.mod) and run with `go tool`.
TOOL      := $(GO) tool -modfile=tools/go.mod

# go test flags for every test run; e.g. make test TEST_FLAGS='-count=1 -v'.
# Every benchmark runs once too, so that none can rot unnoticed (one did
# when create-group's member limit changed).
TEST_FLAGS ?= -count=1 -timeout 9m -p 4 -bench . -benchtime 1x
# Packages whose tests run under the race detector, instead of in the plain
# run: a -race run checks all that a plain one does.
RACE_PKGS := ./pkg/api ./pkg/store
MODULE    := github.com/fleetgroups/fleetgroups

.PHONY: run test test-long check fmt-check vet lint lambda-check go-test build clean invoke synth deploy template fmt bench cost bench-load bench-coldstart vuln vulndb fuzz fuzz-brief

run: ## serve the API on http://$(ADDR) with DynamoDB Local: make run ADDR=127.0.0.1:8080
	$(GO) run ./cmd/local -addr $(ADDR)

test: check ## the static checks, then every test against one DynamoDB Local
	$(GO) run ./cmd/withddb $(MAKE) --no-print-directory go-test

# Packages whose tests take longest start first, so that the run is not
# left waiting on one of them at its end.
SLOW_PKGS := ./pkg/model ./pkg/gateway ./pkg/ddblocal ./infra

# go-test runs under cmd/withddb, which exports DYNAMODB_ENDPOINT: every
# package's TestMain then uses that one emulator instead of starting its own.
# The race run goes alongside the plain one (its output is printed after
# it), since most of either run is spent waiting on DynamoDB Local.
go-test:
	@mkdir -p $(BUILD_DIR)
	@$(GO) test -race $(TEST_FLAGS) $(RACE_PKGS) > $(BUILD_DIR)/race.log 2>&1 & race=$$!; \
	$(GO) test $(TEST_FLAGS) $(SLOW_PKGS) $$($(GO) list ./... | grep -vxF $(patsubst ./%,-e $(MODULE)/%,$(RACE_PKGS) $(SLOW_PKGS))); plain=$$?; \
	wait $$race; racy=$$?; cat $(BUILD_DIR)/race.log; \
	[ $$plain -eq 0 ] && [ $$racy -eq 0 ]

check: fmt-check vet lint lambda-check ## gofmt, go vet, golangci-lint, every Lambda compiles for linux/arm64

fmt-check:
	@out=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change (run make fmt):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: ## golangci-lint with .golangci.yml, pinned in tools/go.mod
	$(TOOL) golangci-lint run --allow-parallel-runners ./...

# Type-checks and vets every Lambda as make build compiles it, for Lambda's
# linux/arm64 and with its build tags, without linking 20 binaries; make
# build, synth and deploy build the real ones.
lambda-check:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) vet -tags $(LAMBDA_TAGS) ./functions/...

# The model-based tests at length (make test runs 50 sequences × 50 steps):
# 1,000 seeded sequences × 50 steps, and the concurrent and fault-injection
# variants scaled alike; then the delete of a 10,000-member group (make test
# deletes 2,000). The log keeps every line; the summary shows the seeds, the
# figures and any failure (with its seed and step).
test-long: ## the model tests at length (1,000 sequences × 50 steps) and a 10,000-member delete
	@mkdir -p $(BUILD_DIR)
	$(GO) test -count=1 -timeout 30m -v -run '^TestModel' ./pkg/model -model.seqs=1000 -model.steps=50 \
		> $(BUILD_DIR)/test-long.log 2>&1; status=$$?; \
		grep -vE '^ *(=== (RUN|PAUSE|CONT)|--- PASS: TestModel[A-Za-z]*/(seq|storm)/)' $(BUILD_DIR)/test-long.log; \
		$(GO) test -count=1 -v -run '^TestDeleteLargeGroupLeavesNoOrphans$$' ./pkg/store -store.largegroup=10000 || status=1; \
		exit $$status

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

# make vuln checks the build against the Go vulnerability database with
# govulncheck (pinned in tools/go.mod). It uses vuln.go.dev when that answers;
# elsewhere (CI reaches only the package registries) it builds the database
# from the golang.org/x/vulndb module, which holds the same OSV entries, with
# that module's own indexer, and caches it outside the repository like
# DynamoDB Local. VULN_DB=https://… or file:///… picks one.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
# The module's h1: hash (as go.sum would record it): the database decides
# what counts as safe, so it is pinned like DynamoDB Local's tarball.
VULNDB_SUM     := h1:mfngRv0Yoh0VApsXKEN82CjD99kl7mtparN3bs3JnqI=
CACHE_DIR      ?= $(or $(FLEETGROUPS_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/fleetgroups)
VULNDB_DIR     := $(CACHE_DIR)/vulndb-$(VULNDB_VERSION)
VULN_DB        ?=

vuln: ## govulncheck of every package: reports only vulnerabilities the code reaches
	@db='$(VULN_DB)'; \
	if [ -z "$$db" ]; then \
	  if timeout 5 bash -c ': </dev/tcp/vuln.go.dev/443' 2>/dev/null; then db=https://vuln.go.dev; \
	  else $(MAKE) --no-print-directory vulndb && db=file://$(VULNDB_DIR); fi; \
	fi; \
	echo "govulncheck -db $$db ./..."; \
	$(TOOL) govulncheck -db "$$db" ./...

vulndb: $(VULNDB_DIR)/index/db.json ## build the vulnerability database from golang.org/x/vulndb

$(VULNDB_DIR)/index/db.json:
	@set -e; \
	info=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION)); \
	sum=$$(echo "$$info" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$$/\1/p'); \
	src=$$(echo "$$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p'); \
	if [ "$$sum" != '$(VULNDB_SUM)' ]; then echo "golang.org/x/vulndb@$(VULNDB_VERSION) has $$sum, want $(VULNDB_SUM)"; exit 1; fi; \
	mkdir -p '$(CACHE_DIR)'; \
	tmp=$$(mktemp -d '$(CACHE_DIR)/.tmp-vulndb-XXXXXX'); \
	trap 'rm -rf "$$tmp"' EXIT; \
	echo "building the vulnerability database from golang.org/x/vulndb@$(VULNDB_VERSION)"; \
	$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$src/data/osv" -out "$$tmp/db"; \
	want=$$(ls "$$src/data/osv" | grep -c '\.json$$'); got=$$(ls "$$tmp/db/ID" | grep -c '\.json$$'); \
	if [ "$$want" != "$$got" ]; then echo "vulndb: $$got entries written, want $$want"; exit 1; fi; \
	echo "vulndb: $$got entries in $(VULNDB_DIR)"; \
	rm -rf '$(VULNDB_DIR)'; mv "$$tmp/db" '$(VULNDB_DIR)'

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The README's cost table is generated from what pkg/cost's test measures;
# make test fails when it is out of date.
cost: ## rewrite README.md's cost table (Performance) from fresh measurements
	$(GO) test -count=1 -run '^TestCostTable$$' ./pkg/cost -update

# make bench-load seeds DynamoDB Local (1,000 groups, 100,000 memberships)
# and drives the local server with a 70/30 read/write mix, then sends the
# same mix straight through the store; it prints both and writes
# $(BUILD_DIR)/bench-load.json. LOAD_FLAGS scales the data set down, e.g.
# make bench-load LOAD_FLAGS='-groups 200 -members 20000 -big-size 2000'.
LOAD_DURATION    ?= 30s
LOAD_CONCURRENCY ?= 16
LOAD_FLAGS       ?=
bench-load: ## the local server under load, next to the same DynamoDB requests sent direct
	$(GO) run ./cmd/loadbench -duration $(LOAD_DURATION) -concurrency $(LOAD_CONCURRENCY) -out $(BUILD_DIR)/bench-load.json $(LOAD_FLAGS)

# Each function's real bootstrap under a local Lambda Runtime API against
# DynamoDB Local, round by round with cmd/baseline (see cmd/coldstart):
# make bench-coldstart COLDSTART_FLAGS='-only get-group,get-openapi -rounds 3'.
COLDSTART_FLAGS ?=
bench-coldstart: ## init, first and warm invocations, CPU, RSS and DynamoDB requests of every Lambda ÷ the baseline's
	$(GO) run ./cmd/coldstart -build-dir $(BUILD_DIR)/coldstart -out $(BUILD_DIR)/bench-coldstart.json $(COLDSTART_FLAGS)

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
	"$$($(GO) env GOROOT)/bin/gofmt" -w $$(git ls-files '*.go')

clean:
	rm -rf $(BUILD_DIR) infra/cdk.out

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set
# (template.yaml: BuildMethod: makefile). The logical ids come from the
# route table (routes.LogicalName + "Function").
build-%Function:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z')

FORCE:
