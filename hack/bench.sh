#!/usr/bin/env bash
# Run one loadgen scenario against fresh signaling nodes on loopback, then stop them.
#
#   hack/bench.sh [--nodes N] [--pprof] [--peer] -- <loadgen flags>
#
# --nodes 1 (default): one node on the in-memory bus. --nodes 2+: a redis-server on a free
# port (never 6379) and N nodes on it. The nodes get a key pair made by `loadgen keygen`;
# loadgen gets --private-key, --url (all nodes), --metrics-url (their metrics listeners) and
# --node-pids (nodes, then redis-server). --pprof builds the node
# with -tags pprof and serves net/http/pprof on 127.0.0.1:<port+1000> of each node.
# --peer runs the same nodes from the reference implementation instead (the Node.js
# Socket.IO 4.8 + Redis adapter stack of the original design, docs/benchmarks.md): its
# start script's path in $PEER_START; it serves no metrics listener.
# BENCH_METRICS_OUT=DIR saves each node's /metrics there before the nodes stop.
# Everything started here is killed on exit. Binaries: $BIN (default ./bin). Extra node
# flags: NODE_FLAGS="..."; extra node environment: NODE_ENV="GOMEMLIMIT=300MiB ...".
set -euo pipefail
NODES=1
PPROF=0
PEER=0
while [[ $# -gt 0 ]]; do
	case "$1" in
	--nodes) NODES=$2; shift 2 ;;
	--pprof) PPROF=1; shift ;;
	--peer) PEER=1; shift ;;
	--) shift; break ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
GO=${GO:-go}
WORK=$(mktemp -d /tmp/loadgen-bench.XXXXXX)
PIDS=()
METRICS_URLS=()
cleanup() {
	# BENCH_METRICS_OUT=DIR keeps each node's /metrics at the end (latency histograms).
	if [[ -n ${BENCH_METRICS_OUT:-} ]]; then
		mkdir -p "$BENCH_METRICS_OUT"
		for i in "${!METRICS_URLS[@]}"; do curl -fs "${METRICS_URLS[$i]}/metrics" >"$BENCH_METRICS_OUT/node-$((i + 1)).txt" || true; done
	fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [[ $PEER == 1 && ! -x ${PEER_START:-} ]]; then
	echo "--peer needs PEER_START: the reference implementation's start script" >&2
	exit 2
fi
TAGS=()
[[ $PPROF == 1 ]] && TAGS=(-tags pprof)
(cd "$ROOT" && $GO build "${TAGS[@]}" -o "$BIN/signaling-bench" ./cmd/signaling && $GO build -o "$BIN/loadgen" ./cmd/loadgen)
"$BIN/loadgen" keygen --out "$WORK" >/dev/null

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

REDIS_ARGS=()
if [[ $NODES -gt 1 ]]; then
	RPORT=$(freeport)
	[[ $RPORT == 6379 ]] && RPORT=$(freeport)
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" --daemonize no \
		--maxclients 10000 >"$WORK/redis.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
	REDIS_ARGS=(--redis-url "redis://127.0.0.1:$RPORT")
	echo "redis-server on 127.0.0.1:$RPORT (pid ${PIDS[-1]})" >&2
fi

URLS=()
NODE_PIDS=()
for i in $(seq "$NODES"); do
	PORT=$(freeport)
	MPORT=$(freeport)
	if [[ $PEER == 1 ]]; then
		# start.sh execs node, so $! is the server process.
		env ${NODE_ENV:-} SB_PORT="$PORT" SB_NODE_ID="peer-$i" SB_JWT_PUBLIC_KEY_FILE="$WORK/public.pem" \
			SB_JWT_AUDIENCE=switchboard-bench SB_ALLOWED_ORIGINS='*' SB_LOG_LEVEL=warn \
			${RPORT:+SB_REDIS_URL=redis://127.0.0.1:$RPORT} "$PEER_START" >"$WORK/node-$i.log" 2>&1 &
	else
		env ${NODE_ENV:-} SIGNALING_PPROF_ADDR="127.0.0.1:$((PORT + 1000))" "$BIN/signaling-bench" --jwt-public-key "$WORK/public.pem" \
			--jwt-audience switchboard-bench --allowed-origins '*' \
			--listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$MPORT" --node-id "bench-$i" --log-level warn "${REDIS_ARGS[@]}" \
			${NODE_FLAGS:-} >"$WORK/node-$i.log" 2>&1 &
		METRICS_URLS+=("http://127.0.0.1:$MPORT")
	fi
	PIDS+=($!)
	NODE_PIDS+=($!)
	URLS+=("http://127.0.0.1:$PORT")
	# (the peer may first install its npm dependencies)
	for _ in $(seq 600); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
	echo "node bench-$i on 127.0.0.1:$PORT (pid ${NODE_PIDS[-1]})$([[ $PPROF == 1 ]] && echo ", pprof on 127.0.0.1:$((PORT + 1000))")" >&2
done

# redis-server last: loadgen reports its RSS and CPU too (it has no URL).
[[ -n ${RPORT:-} ]] && NODE_PIDS+=("${PIDS[0]}")
IFS=,
METRICS_FLAG=()
[[ ${#METRICS_URLS[@]} -gt 0 ]] && METRICS_FLAG=(--metrics-url "${METRICS_URLS[*]}")
"$BIN/loadgen" --private-key "$WORK/private.pem" --audience switchboard-bench --url "${URLS[*]}" "${METRICS_FLAG[@]}" --node-pids "${NODE_PIDS[*]}" "$@"
