# Benchmarks: Go micro-benchmarks of the hot paths and short load-generator scenarios
# against real signaling nodes on loopback (docs/benchmarks.md has the method and numbers).
# `make bench` is not part of `make test`; only the load generator's own quick test is.

LOADGEN := $(BIN)/loadgen
BENCHTIME ?= 1s
# Short scenario: override for bigger runs, e.g. BENCH_CLIENTS=10000.
BENCH_CLIENTS ?= 1000
BENCH_DURATION ?= 10s

.PHONY: loadgen test-loadgen bench bench-micro bench-scenario bench-cost bench-storm bench-cross bench-memory
TEST_TARGETS += test-loadgen

loadgen: ## Build the load generator into bin/loadgen (loadgen --help)
	$(GO) build -o $(LOADGEN) ./cmd/loadgen

test-loadgen: ## Load generator self-test: 20 clients against an in-process node (a few seconds)
	$(GO) test -race -count=1 -timeout 2m ./cmd/loadgen/

bench-micro: ## Micro-benchmarks: codec encode/decode, memory broker publish, hub room fan-out, loopback delivery floor
	$(GO) test -count=1 -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./signaling/protocol/ ./signaling/hub/
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkMemory' -benchmem -benchtime $(BENCHTIME) ./signaling/broker/
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkLoopbackDelivery' -benchtime 1000000x ./signaling/server/
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkWriteCPUPerDelivery' -benchtime 100000x ./signaling/server/
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkVerifyRS256' -benchmem ./signaling/auth/

bench-scenario: ## Short load runs on one node: chat fan-out, relay, join storm (hack/bench.sh)
	hack/bench.sh -- --clients $(BENCH_CLIENTS) --room-size 10 --scenario chat --rate 10 --duration $(BENCH_DURATION) --progress 5s
	hack/bench.sh -- --clients $(BENCH_CLIENTS) --room-size 2 --scenario relay --rate 2000 --duration $(BENCH_DURATION) --progress 5s
	hack/bench.sh -- --clients $(BENCH_CLIENTS) --room-size 10 --scenario storm --progress 0

bench: bench-micro bench-scenario ## Micro-benchmarks and a short scenario run

# The performance figures of docs/benchmarks.md ("Cost per delivery, tails, join storms,
# memory"). BENCH_PEER=--peer runs the same scenario against the reference implementation
# (PEER_START = its start script) for the side-by-side columns.
BENCH_PEER ?=

bench-cost: ## CPU and system calls per delivery: one node, rooms of 10, 10,000 and 50,000 deliveries/s
	hack/bench.sh $(BENCH_PEER) -- --clients 1000 --room-size 10 --scenario chat --rate 10 --duration 20s --progress 0
	hack/bench.sh $(BENCH_PEER) -- --clients 5000 --room-size 10 --scenario chat --rate 10 --duration 20s --progress 0 --source-addrs 127.0.0.2+2

bench-storm: ## Join storm: 2,000 clients connect, authenticate and join at once, one node
	hack/bench.sh $(BENCH_PEER) -- --clients 2000 --room-size 10 --scenario storm --progress 0

bench-cross: ## Two nodes over Redis: cross-node relay at 2,000 msgs/s, chat fan-out at 10,000 deliveries/s
	hack/bench.sh $(BENCH_PEER) --nodes 2 -- --clients 2000 --room-size 2 --scenario relay --rate 2000 --duration 20s --progress 0
	hack/bench.sh $(BENCH_PEER) --nodes 2 -- --clients 1000 --room-size 10 --scenario chat --rate 10 --duration 20s --progress 0

bench-memory: ## Memory per idle authenticated connection at 19,000 connections (fd limit 20,000 per process)
	hack/bench.sh $(BENCH_PEER) -- --clients 19000 --procs 2 --room-size 10 --scenario idle --heartbeat 10s --duration 60s --source-addrs 127.0.0.2+4 --progress 0
