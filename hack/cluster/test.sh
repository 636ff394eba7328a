#!/usr/bin/env bash
# `make test-cluster`: starts the one-node cluster, runs the user-path test (test/cluster, build
# tag `cluster`) against it, and always removes the cluster again and verifies that the host is
# clean — after a failure too. Logs: bin/cluster-logs/.
source "$(dirname "$0")/lib.sh"

timeout=${CLUSTER_TEST_TIMEOUT:-30m}
start=$SECONDS

finish() {
	local rc=$?
	trap - EXIT INT TERM
	log "removing the cluster"
	"$ROOT/hack/cluster/down.sh" || rc=1
	"$ROOT/hack/cluster/check-clean.sh" || rc=1
	if ((rc == 0)); then
		log "test-cluster passed in $((SECONDS - start))s (numbers: $LOGS/numbers.txt)"
	else
		log "test-cluster FAILED (exit $rc); component logs and test output: $LOGS"
	fi
	exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

"$ROOT/hack/cluster/up.sh"
cd "$ROOT"
# Keep the pod logs for a failure's post-mortem: down.sh removes the state directory.
set +e
go test -tags cluster -count=1 -timeout "$timeout" -v ./test/cluster/ 2>&1 | tee "$LOGS/test.log"
rc=${PIPESTATUS[0]}
set -e
if ((rc != 0)) && [[ -d $RUN/pod-logs ]]; then
	cp -r "$RUN/pod-logs" "$LOGS/pod-logs" 2>/dev/null
fi
exit "$rc"
