#!/usr/bin/env bash
# Runs make targets one after the other and prints how long each took, also when one fails, so
# that a CI log shows where the time of `make test` goes.
#
#   hack/run-timed.sh [bg:TARGET] TARGET... [wait] TARGET...
#
# bg:TARGET starts `make TARGET` in the background at the lowest CPU priority (nice 19), its
# output in bin/logs/TARGET.log; `wait` waits for every background target and stops with its log
# if it failed. `make test` builds the long Kubernetes-based tools this way while the tests that
# do not need them run: those tests leave much of the CPU idle (they wait on timers, sockets,
# child processes), the build takes only what they leave, and a woken test preempts it at once.
set -uo pipefail

make_cmd=${MAKE:-make}
log_dir=${BG_LOG_DIR:-bin/logs}
durations=()
status=0
failed=
run_start=$SECONDS
bg_pids=()
bg_names=()
bg_starts=()

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

# A background build must not outlive an interrupted or failed run.
stop_background() {
	for pid in "${bg_pids[@]}"; do
		kill -- "-$pid" 2>/dev/null
	done
}
trap stop_background EXIT
trap 'exit 130' INT TERM

wait_background() {
	local i pid name rc
	for i in "${!bg_pids[@]}"; do
		pid=${bg_pids[$i]}
		name=${bg_names[$i]}
		wait "$pid"
		rc=$?
		record "$name" $((SECONDS - bg_starts[i])) "  (in the background; log: $log_dir/$name.log)"
		if [ $rc -ne 0 ]; then
			echo "background make $name failed (exit $rc); its log, $log_dir/$name.log:"
			cat "$log_dir/$name.log"
			status=$rc
			failed=$name
			bg_pids=()
			return 1
		fi
	done
	bg_pids=()
	bg_names=()
	bg_starts=()
}

for target in "$@"; do
	case $target in
	bg:*)
		name=${target#bg:}
		mkdir -p "$log_dir"
		echo "make $name: started in the background (nice 19), log: $log_dir/$name.log"
		# Job control gives the job its own process group, so that stop_background reaches the
		# compilers too. Not setsid: with the kernel's scheduler autogroups a new session gets
		# its own equal CPU share and nice 19 would not lower it.
		set -m
		nice -n 19 $make_cmd --no-print-directory "$name" >"$log_dir/$name.log" 2>&1 &
		set +m
		bg_pids+=($!)
		bg_names+=("$name")
		bg_starts+=($SECONDS)
		continue
		;;
	wait)
		start=$SECONDS
		[ ${#bg_pids[@]} -eq 0 ] || echo "waiting for the background make ${bg_names[*]}"
		wait_background || break
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

if [ -z "$failed" ] && [ ${#bg_pids[@]} -ne 0 ]; then
	wait_background
fi
summary
exit $status
