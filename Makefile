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

.PHONY: all build run test clean help
all: build

help: ## Show the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

build: ## Build the signaling node and the operator manager into bin/
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/signaling ./cmd/signaling
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/manager ./cmd/manager

run: ## Run one signaling node on :8080 with the in-memory bus and a printed dev token
	$(GO) run ./cmd/signaling --dev

include $(wildcard hack/mk/*.mk)

test: lint $(TEST_TARGETS) ## Run every test (what CI runs)
	@echo "all tests passed"

clean:
	rm -rf $(BIN)
