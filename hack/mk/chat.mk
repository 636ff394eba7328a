# Chat persistence: the buffer/flusher package and the multi-node chat tests, against
# real redis-server processes and an httptest Chat Service.

TEST_TARGETS += test-chat

.PHONY: test-chat bench-chat

test-chat: ## Chat buffer, flusher, history and multi-node chat tests with -race (needs redis-server)
	$(GO) test -race -count=1 -timeout 5m ./signaling/chat/...
	$(GO) test -race -count=1 -timeout 5m -run '^TestChat' ./test/

bench-chat: ## Chat throughput with persistence on: 1,000 users, 100 rooms, two nodes (docs/benchmarks.md)
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkChatThroughput$$' -benchtime 1x -timeout 10m ./test/
