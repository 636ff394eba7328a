# Browser end-to-end test of the demo page (/demo): Debian's Chromium driven by playwright-core
# from npm, two signaling nodes on one real Redis. Chromium's WebRTC gathers candidates on
# every interface, so the test binary (Redis, the nodes, Chromium) runs in a new network
# namespace that has only loopback. Needs root, or unprivileged user namespaces.

CHROMIUM := /usr/bin/chromium
BROWSER_TEST_BIN := $(BIN)/browser.test
# root: a plain new netns; otherwise map ourselves to root in a new user namespace too.
UNSHARE_NET := $(if $(filter 0,$(shell id -u)),unshare --net --,unshare --user --map-root-user --net --)

.PHONY: test-browser chromium browser-deps vendor-socketio
TEST_TARGETS += test-browser
TOOL_TARGETS += browser-deps

chromium: ## Install Debian's chromium (and iproute2) when missing
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "$(CHROMIUM) is missing: installing Debian's chromium package"; \
		apt-cache policy chromium 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null || $(APT_GET) update -qq || true; \
		if ! apt-cache policy chromium 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then \
			echo "FAIL: apt knows no chromium package (apt-cache policy chromium); the browser test needs it"; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium >/dev/null || { \
			echo "FAIL: apt-get install chromium failed; the browser test needs $(CHROMIUM)"; exit 1; }; \
	fi
	@command -v ip >/dev/null || DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq iproute2 >/dev/null
	@$(CHROMIUM) --version 2>/dev/null

# npm ci runs only when the lock file's content changed since the tree was installed.
test/browser/node_modules/.package-lock.json: $(call inputs-stamp,browser-deps,test/browser/package-lock.json)
	cd test/browser && npm ci --no-audit --no-fund

browser-deps: chromium test/browser/node_modules/.package-lock.json

vendor-socketio: test/browser/node_modules/.package-lock.json ## Refresh the demo's socket.io.min.js from test/browser's locked socket.io-client
	cp test/browser/node_modules/socket.io-client/dist/socket.io.min.js signaling/demo/static/socket.io.min.js

test-browser: browser-deps ## Demo page: real Chromium call across two nodes on Redis (loopback-only netns)
	$(GO) test -count=1 ./signaling/demo/
	$(GO) test -c -tags browser -o $(BROWSER_TEST_BIN) ./test/browser
	cd test/browser && $(UNSHARE_NET) sh -c 'ip link set lo up && exec $(BROWSER_TEST_BIN) -test.v -test.count=1 -test.timeout 5m'
