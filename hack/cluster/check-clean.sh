#!/usr/bin/env bash
# Verifies that the host carries nothing of the one-node cluster (after hack/cluster/down.sh):
# no processes, mounts, network namespaces, veths, bridge, route, nftables/iptables rules,
# cgroups, state directory, and every watched sysctl as it was before up.sh. Exits 1 and lists
# what is left otherwise.
source "$(dirname "$0")/lib.sh"
set +e # every check runs; the verdict is the list below

left=()
leftover() { left+=("$*"); }

for b in "$KUBE_BIN"/{kubelet,kube-proxy,kube-controller-manager,kube-scheduler,coredns} "$ENVTEST_BIN"/kube-apiserver; do
	pids=$(pgrep -xf "$b( .*)?" | tr '\n' ' ')
	[[ -n $pids ]] && leftover "process $(basename "$b"): $pids"
done
pgrep -f "etcd --name switchboard --data-dir $RUN" >/dev/null && leftover "process etcd"
pgrep -f "containerd --config $RUN/" >/dev/null && leftover "process containerd"
pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" >/dev/null && leftover "containerd shims"
awk -v run="$RUN" 'index($5, run) == 1' /proc/self/mountinfo | grep -q . && leftover "mounts below $RUN"
[[ -e $RUN ]] && leftover "state directory $RUN"
ip link show "$BRIDGE" >/dev/null 2>&1 && leftover "bridge $BRIDGE"
ip -o link show type veth 2>/dev/null | grep -q "master $BRIDGE" && leftover "veths on $BRIDGE"
ip route show "$SERVICE_CIDR" | grep -q . && leftover "route $SERVICE_CIDR"
ip route show "$POD_CIDR" | grep -q . && leftover "route $POD_CIDR"
nft list table inet "$NFT_TABLE" >/dev/null 2>&1 && leftover "nftables table inet $NFT_TABLE"
for fam in ip ip6; do
	nft list table "$fam" kube-proxy >/dev/null 2>&1 && leftover "nftables table $fam kube-proxy"
done
for ipt in iptables ip6tables; do
	command -v $ipt >/dev/null || continue
	for table in filter nat mangle; do
		chains=$($ipt -t $table -S 2>/dev/null | grep -oE '^-N (KUBE|CNI)-[^ ]+' | cut -d' ' -f2 | tr '\n' ' ')
		[[ -n $chains ]] && leftover "$ipt -t $table chains: $chains"
	done
done
for c in /sys/fs/cgroup/*/"$CGROUP_ROOT" /sys/fs/cgroup/"$CGROUP_ROOT"; do
	[[ -d $c ]] && leftover "cgroup $c"
done
for ns in /run/netns/cni-*; do
	[[ -e $ns ]] || continue
	grep -qxF "$(basename "$ns")" "$BASELINE/netns" 2>/dev/null || leftover "network namespace $ns"
done
find /var/log/containers -maxdepth 1 -type l -lname "$RUN/*" 2>/dev/null | grep -q . && leftover "symlinks in /var/log/containers"
if [[ -f $BASELINE/sysctls ]]; then
	while read -r k v; do
		now=$(cat "$(sysctl_path "$k")" 2>/dev/null)
		[[ $now == "$v" ]] || leftover "sysctl $k = $now (was $v)"
	done <"$BASELINE/sysctls"
fi
if [[ -f $BASELINE/dirs ]]; then
	for d in "${HOST_DIRS[@]}"; do
		[[ -e $d ]] && ! grep -qxF "$d" "$BASELINE/dirs" && leftover "directory $d (created by the cluster)"
	done
fi

if ((${#left[@]})); then
	printf 'left behind by the one-node cluster:\n' >&2
	printf '  %s\n' "${left[@]}" >&2
	exit 1
fi
log "host is clean: nothing of the one-node cluster is left"
