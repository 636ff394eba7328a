#!/usr/bin/env bash
# Stops the one-node test cluster and removes everything up.sh put on the host: processes,
# containers and their shims, mounts, network namespaces, veths, the bridge, the Service route,
# nftables/iptables rules, cgroups, sysctl changes and the state directory. Safe to run at any
# point (also after a half-started or crashed cluster); hack/cluster/check-clean.sh verifies it.
source "$(dirname "$0")/lib.sh"
set +e # clean up as much as possible even when one step fails

[[ $(id -u) == 0 ]] || die "needs root"

# stop NAME [SECONDS]: SIGTERM the component, SIGKILL it after SECONDS (default 10).
stop() {
	local f=$RUN/$1.pid pid
	[[ -f $f ]] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		local deadline=$((SECONDS + ${2:-10}))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	rm -f "$f"
}

# 1. Let the kubelet tear the pods down properly (CNI DEL, unmounts): no controller may recreate
#    them, so the controller manager and the scheduler go first.
stop kube-controller-manager
stop kube-scheduler
if pid_alive kube-apiserver && pid_alive kubelet && pid_alive containerd; then
	kubectl delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1
	deadline=$((SECONDS + 15))
	while ((SECONDS < deadline)); do
		[[ -z $(ctr_k8s tasks ls -q 2>/dev/null) ]] && break
		sleep 0.5
	done
fi
stop kubelet 15
stop kube-proxy
stop coredns
stop kube-apiserver
stop etcd

# 2. Whatever is still running in containerd (a crashed kubelet leaves pods behind).
if pid_alive containerd; then
	for t in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
	sleep 0.5
	for t in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks delete -f "$t" >/dev/null 2>&1; done
	for c in $(ctr_k8s containers ls -q 2>/dev/null); do ctr_k8s containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd
# Shims outlive containerd; ours are the ones started against our socket.
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK"); do
	pkill -KILL -P "$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
done
# Container processes whose shim is gone: every process in a cgroup under our cgroup root.
for procs in /sys/fs/cgroup/*/"$CGROUP_ROOT" /sys/fs/cgroup/"$CGROUP_ROOT"; do
	[[ -d $procs ]] || continue
	find "$procs" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | xargs -r kill -KILL 2>/dev/null
done

# 3. Mounts: everything below the state directory (deepest first), and the pods' network
#    namespaces that containerd pinned.
for _ in 1 2 3; do
	mapfile -t mounts < <(awk -v run="$RUN" 'index($5, run) == 1 {print $5}' /proc/self/mountinfo | sort -r)
	((${#mounts[@]})) || break
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done
before_netns=$(cat "$BASELINE/netns" 2>/dev/null)
for ns in /run/netns/cni-*; do
	[[ -e $ns ]] || continue
	grep -qxF "$(basename "$ns")" <<<"$before_netns" && continue
	umount "$ns" 2>/dev/null
	rm -f "$ns"
done

# 4. Network: veths on the bridge, the bridge, the route, the rules.
for veth in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
	ip link delete "$veth" 2>/dev/null
done
ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
ip route show "$SERVICE_CIDR" | grep -q . && ip route delete "$SERVICE_CIDR"
nft list table inet "$NFT_TABLE" >/dev/null 2>&1 && nft delete table inet "$NFT_TABLE"
for fam in ip ip6; do
	nft list table "$fam" kube-proxy >/dev/null 2>&1 && nft delete table "$fam" kube-proxy
done
# The kubelet's (and, in iptables mode, kube-proxy's) chains.
for ipt in iptables ip6tables; do
	command -v $ipt >/dev/null || continue
	for table in filter nat mangle; do
		rules=$($ipt -t $table -S 2>/dev/null)
		grep -qE -- '-[NAI] (KUBE|CNI)-| -j (KUBE|CNI)-' <<<"$rules" || continue
		# Jumps into our chains first, then the chains themselves.
		grep -E -- '^-A .* -j (KUBE|CNI)-' <<<"$rules" | grep -vE '^-A (KUBE|CNI)-' |
			sed 's/^-A /-D /' | while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null; done
		for chain in $(grep -oE '^-N (KUBE|CNI)-[^ ]+' <<<"$rules" | cut -d' ' -f2); do
			$ipt -t $table -F "$chain" 2>/dev/null
		done
		for chain in $(grep -oE '^-N (KUBE|CNI)-[^ ]+' <<<"$rules" | cut -d' ' -f2); do
			$ipt -t $table -X "$chain" 2>/dev/null
		done
	done
done

# 5. Cgroups (deepest first).
for c in /sys/fs/cgroup/*/"$CGROUP_ROOT" /sys/fs/cgroup/"$CGROUP_ROOT"; do
	[[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# 6. Sysctls back to their values before up.sh.
if [[ -f $BASELINE/sysctls ]]; then
	while read -r k v; do
		p=$(sysctl_path "$k")
		[[ -w $p && $(cat "$p") != "$v" ]] && echo "$v" >"$p"
	done <"$BASELINE/sysctls"
fi

# 7. Files the components left outside the state directory.
find /var/log/containers -maxdepth 1 -type l -lname "$RUN/*" -delete 2>/dev/null
# CNI results of pods whose teardown the kubelet did not finish: ours by network name, and the
# loopback plugin's too when the directory is ours altogether.
rm -f /var/lib/cni/results/"$CNI_NETWORK"-* 2>/dev/null
if [[ -f $BASELINE/dirs ]] && ! grep -qxF /var/lib/cni "$BASELINE/dirs"; then
	rm -rf /var/lib/cni
fi
if [[ -f $BASELINE/dirs ]]; then
	for d in "${HOST_DIRS[@]}"; do
		grep -qxF "$d" "$BASELINE/dirs" && continue
		[[ -d $d ]] && find "$d" -depth -type d -empty -delete 2>/dev/null
	done
fi

# 8. The state directory, but never across a mount point that is still there.
if awk -v run="$RUN" 'index($5, run) == 1 {found=1} END {exit !found}' /proc/self/mountinfo; then
	die "mounts below $RUN remain; not removing it"
fi
rm -rf "$RUN"
log "cluster stopped"
