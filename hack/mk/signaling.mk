# Signaling node: unit + integration tests, the socket.io-client test, a short fuzz run.

SIGNALING_PKGS := ./signaling/protocol/... ./signaling/auth/... ./signaling/hub/... \
	./signaling/server/... ./signaling/config/... ./signaling/sioclient/... ./cmd/signaling/...
FUZZTIME ?= 10s

.PHONY: test-signaling test-e2e fuzz node-deps
TEST_TARGETS += test-signaling fuzz test-e2e
TOOL_TARGETS += node-deps

test-signaling: ## Unit and integration tests of the signaling node (race detector on)
	$(GO) test -race -count=1 $(SIGNALING_PKGS)

fuzz: ## Fuzz the Socket.IO packet and event parsers briefly (FUZZTIME=5m for a longer run)
	$(GO) test ./signaling/protocol -run '^$$' -fuzz FuzzParsePacket -fuzztime $(FUZZTIME)
	$(GO) test ./signaling/protocol -run '^$$' -fuzz FuzzParseEvent -fuzztime $(FUZZTIME)

# npm ci runs only when the lock file's content changed since the tree was installed.
test/node/node_modules/.package-lock.json: $(call inputs-stamp,node-deps,test/node/package-lock.json)
	cd test/node && npm ci --no-audit --no-fund
node-deps: test/node/node_modules/.package-lock.json

# The chat and SFU end-to-end tests in test/ run under -race in test-chat and test-sfu.
E2E_SKIP := $(subst ',,$(SFU_E2E))|^TestChat

test-e2e: node-deps ## End-to-end tests in test/: multi-node on real Redis, drain, real socket.io-client
	$(GO) test -count=1 -timeout 15m -skip '$(E2E_SKIP)' ./test/
