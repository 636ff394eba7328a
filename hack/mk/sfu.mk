# SFU signaling: Room Service cache, Media Service proxy, circuit breaker, P2P fallback.
# Integration tests use httptest Room/Media Services and a real redis-server.

SFU_PKGS := ./signaling/rooms/... ./signaling/sfu/...
SFU_E2E := 'SFU|RoomCache|RoomService|RoomFull|MediaBreaker|P2PFallback|OperatorVerdict'

TEST_TARGETS += test-sfu

.PHONY: test-sfu

test-sfu: ## SFU proxy, room cache, breaker and fallback tests (race detector on; needs redis-server)
	$(GO) test -race -count=1 -timeout 5m $(SFU_PKGS)
	$(GO) test -race -count=1 -timeout 5m -run $(SFU_E2E) ./test/
