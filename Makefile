# Switchboard — build, run and test.
#
#   make run     one signaling node on :8080, in-memory bus, prints a dev token
#   make test    every test: Go unit + integration (real redis-server), envtest,
#                socket.io-client, chart checks. Builds the tools it needs into bin/ once.
#
# Concern-specific targets live in hack/mk/*.mk and add themselves to TEST_TARGETS;
# `make lint` (hack/mk/lint.mk) runs first.

SHELL := /usr/bin/env bash -o pipefail
GO ?= go
BIN := $(CURDIR)/bin
export GOFLAGS ?= -buildvcs=false

TEST_TARGETS :=
# Everything the tests build or install once (binaries under bin/, npm trees, Debian packages);
# each hack/mk/*.mk file adds its own. `make test` builds them first, TOOLS_JOBS at a time, so
# that downloads, links and package installs overlap the compiles. The builds that share
# Kubernetes packages (K8S_TOOL_TARGETS) run one after the other in one of those jobs: two
# concurrent `go build`s would compile the same packages twice.
TOOL_TARGETS :=
K8S_TOOL_TARGETS :=
TOOLS_JOBS ?= 2
# apt refuses to run twice at once; the install targets may run in parallel (make tools), so each
# apt-get call waits for the others.
APT_GET := flock /tmp/switchboard-apt.lock apt-get

.PHONY: all build run test tools tools-parallel tools-k8s clean help
all: build

help: ## Show the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

build: ## Build the signaling node and the operator manager into bin/
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/signaling ./cmd/signaling
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/manager ./cmd/manager

run: ## Run one signaling node on :8080 with the in-memory bus and a printed dev token
	$(GO) run ./cmd/signaling --dev

include $(wildcard hack/mk/*.mk)

tools: ## Build and install everything the tests need (once; make test does it first)
	$(MAKE) --no-print-directory -j$(TOOLS_JOBS) tools-parallel

tools-parallel: tools-k8s $(TOOL_TARGETS)

tools-k8s:
	$(MAKE) --no-print-directory -j1 $(K8S_TOOL_TARGETS)

test: ## Run every test (what CI runs)
	$(MAKE) --no-print-directory tools
	$(MAKE) --no-print-directory lint $(TEST_TARGETS)
	@echo "all tests passed"

clean:
	rm -rf $(BIN)
