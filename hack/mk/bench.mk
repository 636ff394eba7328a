# Benchmarks: Go micro-benchmarks of the hot paths and short load-generator scenarios
# against real signaling nodes on loopback (docs/benchmarks.md has the method and numbers).
# `make bench` is not part of `make test`; only the load generator's own quick test is.

LOADGEN := $(BIN)/loadgen
BENCHTIME ?= 1s
# Short scenario: override for bigger runs, e.g. BENCH_CLIENTS=10000.
BENCH_CLIENTS ?= 1000
BENCH_DURATION ?= 10s

.PHONY: loadgen test-loadgen bench bench-micro bench-scenario
TEST_TARGETS += test-loadgen

loadgen: ## Build the load generator into bin/loadgen (loadgen --help)
	$(GO) build -o $(LOADGEN) ./cmd/loadgen

test-loadgen: ## Load generator self-test: 20 clients against an in-process node (a few seconds)
	$(GO) test -race -count=1 -timeout 2m ./cmd/loadgen/

bench-micro: ## Micro-benchmarks: codec encode/decode, memory broker publish, hub room fan-out, loopback delivery floor
	$(GO) test -count=1 -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./signaling/protocol/ ./signaling/hub/
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkMemory' -benchmem -benchtime $(BENCHTIME) ./signaling/broker/
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkLoopbackDelivery' -benchtime 1000000x ./signaling/server/

bench-scenario: ## Short load runs on one node: chat fan-out, relay, join storm (hack/bench.sh)
	hack/bench.sh -- --clients $(BENCH_CLIENTS) --room-size 10 --scenario chat --rate 10 --duration $(BENCH_DURATION) --progress 5s
	hack/bench.sh -- --clients $(BENCH_CLIENTS) --room-size 2 --scenario relay --rate 2000 --duration $(BENCH_DURATION) --progress 5s
	hack/bench.sh -- --clients $(BENCH_CLIENTS) --room-size 10 --scenario storm --progress 0

bench: bench-micro bench-scenario ## Micro-benchmarks and a short scenario run
