# The drain, reconnection-window and multi-node end-to-end tests again with one CPU: a pod
# whose CPU limit is one core or less runs the node with GOMAXPROCS=1 (the Go runtime
# follows the cgroup limit), which changes what runs when. test-e2e runs the same tests
# with the machine's GOMAXPROCS. GOMAXPROCS=1 in the environment reaches the node
# subprocesses the tests start; -cpu 1 covers the in-process nodes.

ONE_CPU_E2E := TestDrain|TestRollingRestart|TestShutdown|TestCrossNode|TestReconnectWindow|TestReplaceAcrossNodes|TestCrashedNode|TestSIGKILLed|TestRelay|TestStockSocketIOClientReconnectsOffADrainingNode

.PHONY: test-one-cpu
TEST_TARGETS += test-one-cpu

test-one-cpu: node-deps ## Drain, reconnection-window and multi-node tests with GOMAXPROCS=1 (a pod with a ≤1-core CPU limit)
	GOMAXPROCS=1 $(GO) test -count=1 -cpu 1 -timeout 10m ./signaling/hub/
	GOMAXPROCS=1 $(GO) test -count=1 -cpu 1 -timeout 10m -run '$(ONE_CPU_E2E)' ./test/
