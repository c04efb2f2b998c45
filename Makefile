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

.PHONY: run test test-long build clean invoke synth deploy template fmt vet bench

run: ## serve the API on http://127.0.0.1:3000 with DynamoDB Local
	$(GO) run ./cmd/local

test: ## every test, against DynamoDB Local started by the tests
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 9m ./...

# The model-based tests at length (make test runs 50 sequences × 50 steps):
# 1,000 seeded sequences × 50 steps, and the concurrent and fault-injection
# variants scaled alike. The log keeps every line; the summary shows the
# seeds, the figures and any failure (with its seed and step).
test-long: ## the model tests at length: 1,000 sequences × 50 steps
	@mkdir -p $(BUILD_DIR)
	$(GO) test -count=1 -timeout 30m -v -run '^TestModel' ./pkg/model -model.seqs=1000 -model.steps=50 \
		> $(BUILD_DIR)/test-long.log 2>&1; status=$$?; \
		grep -vE '^ *(=== (RUN|PAUSE|CONT)|--- PASS: TestModel[A-Za-z]*/(seq|storm)/)' $(BUILD_DIR)/test-long.log; exit $$status

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
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BUILD_DIR) infra/cdk.out

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set
# (template.yaml: BuildMethod: makefile). The logical ids come from the
# route table (routes.LogicalName + "Function").
build-%Function:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z')

FORCE:
