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
# Tests that need the Kubernetes-based tools (hack/mk/k8s-tools.mk); `make test` runs them after
# those tools are built (test-cluster in the background lane that builds them).
K8S_TEST_TARGETS :=
# Everything the tests build or install once (binaries under bin/, npm trees, Debian packages);
# each hack/mk/*.mk file adds its own. `make test` builds them first, TOOLS_JOBS at a time, so
# that downloads, installs and the small builds overlap the long Kubernetes-based build
# (hack/mk/k8s-tools.mk).
TOOL_TARGETS :=
TOOLS_JOBS ?= 2
# apt refuses to run twice at once; the install targets may run in parallel (make tools), so each
# apt-get call waits for the others.
APT_GET := flock /tmp/switchboard-apt.lock apt-get

# A tool in bin/ is rebuilt when the *content* of its inputs changes, not their mtime: a fresh
# clone gives every file a new mtime, and a bin/ kept from an earlier checkout (CI's cache, a
# copied tree) would otherwise rebuild every tool. $(call inputs-stamp,NAME,FILES) expands to
# bin/.stamps/NAME, a file holding the SHA-256 of FILES and rewritten (so made newer) only when
# that hash changes (by rename: make test runs two makes at once); tool targets depend on it
# instead of on the files.
STAMP_DIR := $(BIN)/.stamps
inputs-stamp = $(shell mkdir -p $(STAMP_DIR) && sum=$$(cat $(2) | sha256sum) && \
	{ [ "$$(cat $(STAMP_DIR)/$(1) 2>/dev/null)" = "$$sum" ] || \
	  { echo "$$sum" > $(STAMP_DIR)/$(1).$$$$ && mv -f $(STAMP_DIR)/$(1).$$$$ $(STAMP_DIR)/$(1); }; } && \
	echo $(STAMP_DIR)/$(1))

.PHONY: all build run test tools tools-parallel tools-without-k8s print-tool-files clean help
all: build

help: ## Show the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

build: ## Build the signaling node and the operator manager into bin/
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/signaling ./cmd/signaling
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/manager ./cmd/manager

run: ## Run one signaling node on :8080 with the in-memory bus and a printed dev token
	$(GO) run ./cmd/signaling --dev

# k8s-tools.mk first: the others use its tool paths in their prerequisites.
include hack/mk/k8s-tools.mk $(filter-out hack/mk/k8s-tools.mk,$(wildcard hack/mk/*.mk))

tools: ## Build and install everything the tests need (once; make test does it first)
	$(MAKE) --no-print-directory -j$(TOOLS_JOBS) tools-parallel

tools-parallel: $(TOOL_TARGETS)

tools-without-k8s:
	$(MAKE) --no-print-directory -j$(TOOLS_JOBS) $(filter-out $(K8S_TOOLS),$(TOOL_TARGETS))

# The files `make tools` builds (hack/check-tool-stamps.sh reads them).
print-tool-files:
	@echo $(filter $(BIN)/%,$(TOOL_TARGETS))

# A background lane builds the Kubernetes-based tools (nice 19; at once when already built) and
# then runs the one-node cluster test, while the tests that need neither run; the other tests
# that need the tools wait for the lane (hack/run-timed.sh).
test: ## Run every test (what CI runs)
	@MAKE="$(MAKE)" BG_LOG_DIR=$(BIN)/logs hack/run-timed.sh tools-without-k8s \
		bg:nice:k8s-tools,test-cluster lint $(TEST_TARGETS) wait $(filter-out test-cluster,$(K8S_TEST_TARGETS))
	@echo "all tests passed"

clean:
	rm -rf $(BIN)
