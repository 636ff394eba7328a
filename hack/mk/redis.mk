# Redis bus and presence: tests and benchmark against real redis-server processes
# (started by internal/testutil/redisserver on free 127.0.0.1 ports; never 6379).

REDIS_PKGS := ./signaling/broker/... ./signaling/presence/... ./signaling/recovery/... ./signaling/redisconn/... ./internal/...

TEST_TARGETS += test-redis

.PHONY: test-redis bench-redis

test-redis: ## Redis broker/presence/redisconn tests with -race (needs redis-server in PATH)
	$(GO) test -race -count=1 -timeout 5m $(REDIS_PKGS)

bench-redis: ## Cross-node relay latency through redis-server at 5,000 msg/s (p50/p99)
	$(GO) test -count=1 -run '^$$' -bench BenchmarkCrossNodeRelay -benchtime 1x ./signaling/broker/
