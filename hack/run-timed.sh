#!/usr/bin/env bash
# Runs make targets one after the other and prints how long each took, also when one fails, so
# that a CI log shows where the time of `make test` goes.
#
#   hack/run-timed.sh TARGET... [bg:[nice:]TARGET[,[nice:]TARGET...]] TARGET... [wait] TARGET...
#
# bg:A,B starts a background lane that runs `make A` and then `make B`, its output in
# bin/logs/bg-lane.log; a target written nice:A runs at the lowest CPU priority (nice 19).
# `wait` waits for the lane, prints its log and stops if it failed. `make test` uses one lane:
# the long Kubernetes-based build (niced: it takes only the CPU the tests leave idle while they
# wait on timers, sockets and child processes, and a woken test preempts it at once), then the
# one-node cluster test, beside the tests that need neither.
set -uo pipefail

make_cmd=${MAKE:-make}
log_dir=${BG_LOG_DIR:-bin/logs}
lane_log=$log_dir/bg-lane.log
lane_times=$log_dir/bg-lane.times
durations=()
status=0
failed=
run_start=$SECONDS
lane_pid=

record() { durations+=("$(printf '%-20s %5d s%s' "$1" "$2" "${3:-}")"); }

summary() {
	echo
	echo "time per target:"
	printf '  %s\n' "${durations[@]}"
	printf '  %-20s %5d s\n' total $((SECONDS - run_start))
	if [ -n "$failed" ]; then
		echo "FAILED: make $failed (exit $status)"
	fi
}

# The lane must not outlive an interrupted or failed run: job control gave it a process group
# of its own, so this reaches the compilers and test processes too. (Not setsid: with the
# kernel's scheduler autogroups a new session gets an equal CPU share of its own, which nice
# does not lower.)
stop_lane() {
	[ -z "$lane_pid" ] || kill -- "-$lane_pid" 2>/dev/null
}
trap stop_lane EXIT
trap 'exit 130' INT TERM

# run_lane TARGET...: the lane's body; appends "target seconds exit" lines to $lane_times.
run_lane() {
	local t name start rc
	for t in "$@"; do
		name=${t#nice:}
		start=$(date +%s)
		echo "=== make $name$([ "$name" = "$t" ] || echo ' (nice 19)')"
		if [ "$name" = "$t" ]; then
			$make_cmd --no-print-directory "$name"
		else
			nice -n 19 $make_cmd --no-print-directory "$name"
		fi
		rc=$?
		echo "$name $(($(date +%s) - start)) $rc" >>"$lane_times"
		[ $rc -eq 0 ] || return $rc
	done
}

wait_lane() {
	local rc name secs code
	[ -n "$lane_pid" ] || return 0
	wait "$lane_pid"
	rc=$?
	lane_pid=
	echo "--- the background lane's output ($lane_log):"
	cat "$lane_log"
	echo "--- end of the background lane's output"
	while read -r name secs code; do
		record "$name" "$secs" "  (background lane)"
		if [ "$code" -ne 0 ]; then
			failed=$name
		fi
	done <"$lane_times"
	if [ $rc -ne 0 ]; then
		status=$rc
		failed=${failed:-background lane}
		return 1
	fi
}

for target in "$@"; do
	case $target in
	bg:*)
		mkdir -p "$log_dir"
		: >"$lane_times"
		IFS=, read -r -a lane <<<"${target#bg:}"
		echo "background lane started: ${lane[*]} (log: $lane_log)"
		set -m
		run_lane "${lane[@]}" >"$lane_log" 2>&1 &
		lane_pid=$!
		set +m
		continue
		;;
	wait)
		start=$SECONDS
		[ -z "$lane_pid" ] || echo "waiting for the background lane"
		wait_lane || break
		record "(waited)" $((SECONDS - start))
		continue
		;;
	esac
	start=$SECONDS
	$make_cmd --no-print-directory "$target"
	status=$?
	record "$target" $((SECONDS - start))
	if [ $status -ne 0 ]; then
		failed=$target
		break
	fi
done

if [ -z "$failed" ] && [ -n "$lane_pid" ]; then
	wait_lane
fi
summary
exit $status
