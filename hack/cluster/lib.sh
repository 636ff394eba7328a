# Shared settings of the one-node test cluster (sourced by up.sh, down.sh, check-clean.sh).
#
# Everything the cluster creates on the host is named here, so that down.sh removes exactly it and
# check-clean.sh verifies that nothing of it is left.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Resolved: bin/ may be a symlink (a worktree sharing another checkout's bin/), and the kernel
# lists mounts under their real path, which down.sh and check-clean.sh match against.
BIN=$(realpath -m "$ROOT/bin")
KUBE_BIN=$BIN/cluster            # kubelet, kube-proxy, kube-controller-manager, kube-scheduler, kubectl, coredns
ENVTEST_BIN=$BIN/envtest         # etcd, kube-apiserver (the envtest builds)
RUN=$BIN/cluster-run             # state: certificates, configs, containerd and kubelet roots, pid files
LOGS=$BIN/cluster-logs           # one log per component, plus the host baseline taken by up.sh
BASELINE=$LOGS/host-before

NODE_NAME=switchboard-node
BRIDGE=sbcni0
BRIDGE_IP=10.244.0.1             # node IP, API server, kubelet and cluster DNS all listen here
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/24
KUBERNETES_SVC_IP=10.96.0.1
CLUSTER_DOMAIN=cluster.local
API_PORT=6443
ETCD_CLIENT=127.0.0.1:12379
ETCD_PEER=127.0.0.1:12380
NFT_TABLE=switchboard_cluster    # inet table that keeps forwarded pod traffic on the bridge
CGROUP_ROOT=switchboard-cluster  # kubelet's cgroupRoot: every pod cgroup lives under it
CNI_NETWORK=switchboard
CNI_BIN_DIR=/usr/lib/cni         # Debian's containernetworking-plugins

CONTAINERD_SOCK=$RUN/containerd/containerd.sock
KUBECONFIG_FILE=$RUN/admin.kubeconfig

# Host sysctls the cluster's components change (ip_forward by the bridge plugin) or could change
# (kubelet's kernel defaults, kube-proxy's conntrack and localnet settings). up.sh records them,
# down.sh writes the recorded values back, check-clean.sh compares.
WATCHED_SYSCTLS=(
	net.ipv4.ip_forward
	net.ipv4.conf.all.forwarding
	net.ipv4.conf.all.route_localnet
	net.ipv6.conf.all.forwarding
	net.bridge.bridge-nf-call-iptables
	net.bridge.bridge-nf-call-ip6tables
	net.netfilter.nf_conntrack_max
	net.netfilter.nf_conntrack_tcp_timeout_established
	net.netfilter.nf_conntrack_tcp_timeout_close_wait
	net.netfilter.nf_conntrack_tcp_be_liberal
	vm.overcommit_memory
	vm.panic_on_oom
	kernel.panic
	kernel.panic_on_oops
	kernel.keys.root_maxkeys
	kernel.keys.root_maxbytes
)

# Host directories that components create on first use outside our own state directory.
HOST_DIRS=(/run/containerd /var/lib/cni /run/netns /var/run/netns /var/log/containers /var/log/pods /etc/cni)

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "ERROR: $*"
	log "component logs: $LOGS"
	exit 1
}

kubectl() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

sysctl_path() { echo "/proc/sys/${1//.//}"; }

# pid_alive NAME: the component started by up.sh under NAME is running.
pid_alive() {
	local f=$RUN/$1.pid
	[[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s until it succeeds.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "timed out after ${secs}s waiting for $what"
		sleep 0.2
	done
}
