#!/usr/bin/env bash
# Starts the one-node test cluster (docs/quickstart.md, "This repository's one-node cluster"):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, CoreDNS, containerd, kubelet and
# kube-proxy as host processes, pods on the bridge sbcni0 (10.244.0.0/24), Services on
# 10.96.0.0/24 routed to that bridge, the images of `make images` imported into containerd.
#
# Network safety: every cluster address (pods, Services) is routed to the bridge, and an nftables
# table drops any forwarded packet that would leave the bridge, so nothing of the cluster can
# reach past this machine. The cluster DNS answers cluster.local only (no forwarding).
#
# Requires root. `make cluster-up` builds the binaries and images first; `make cluster-down` (or
# hack/cluster/down.sh) removes everything again.
source "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || die "the one-node cluster needs root (network, mounts, cgroups)"
for b in "$KUBE_BIN"/{kubelet,kube-proxy,kube-controller-manager,kube-scheduler,kubectl,coredns} \
	"$ENVTEST_BIN"/{etcd,kube-apiserver}; do
	[[ -x $b ]] || die "missing $b: run 'make cluster-up' (it builds the binaries)"
done
for t in containerd ctr runc nft iptables ip unshare openssl "$CNI_BIN_DIR/bridge" "$CNI_BIN_DIR/host-local" "$CNI_BIN_DIR/loopback"; do
	command -v "$t" >/dev/null || die "missing $t: run 'make cluster-deps' (Debian packages)"
done
IMAGES_LIST=${IMAGES_LIST:-$BIN/images/images.txt}
[[ -f $IMAGES_LIST ]] || die "missing $IMAGES_LIST: run 'make images'"

if pid_alive etcd || pid_alive kubelet || pid_alive containerd; then
	die "the cluster is already running (hack/cluster/down.sh stops it)"
fi
if [[ -e $RUN ]] || ip link show "$BRIDGE" >/dev/null 2>&1; then
	log "leftovers of an earlier run found: cleaning up first"
	"$(dirname "$0")/down.sh"
fi

START=$SECONDS
mkdir -p "$RUN" "$LOGS"
rm -f "$LOGS"/*.log

# --- baseline of the host, so that down.sh restores it and check-clean.sh can compare ---------
mkdir -p "$BASELINE"
for k in "${WATCHED_SYSCTLS[@]}"; do
	p=$(sysctl_path "$k")
	[[ -r $p ]] && echo "$k $(cat "$p")"
done >"$BASELINE/sysctls"
for d in "${HOST_DIRS[@]}"; do [[ -e $d ]] && echo "$d"; done >"$BASELINE/dirs"
ls /run/netns 2>/dev/null >"$BASELINE/netns" || true

# --- certificates and kubeconfig ---------------------------------------------------------------
PKI=$RUN/pki
mkdir -p "$PKI"
(
	cd "$PKI"
	openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
	openssl req -x509 -new -key ca.key -days 7 -subj "/CN=switchboard-cluster-ca" -out ca.crt 2>/dev/null
	sign() { # sign NAME SUBJECT EXTENSIONS
		openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
		openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
		printf '%s\n' "$3" >"$1.ext"
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
			-extfile "$1.ext" -out "$1.crt" 2>/dev/null
	}
	# The API server's certificate names every address pods and the host use to reach it.
	sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$BRIDGE_IP,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
	# One system:masters client certificate for the components and the test: a throw-away
	# single-node cluster, so per-component identities would add nothing.
	sign admin "/O=system:masters/CN=switchboard-admin" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	openssl genrsa -out sa.key 2048 2>/dev/null
	openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
)
cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: switchboard
  cluster:
    server: https://$BRIDGE_IP:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: admin
  user:
    client-certificate: $PKI/admin.crt
    client-key: $PKI/admin.key
contexts:
- name: switchboard
  context: {cluster: switchboard, user: admin}
current-context: switchboard
EOF

# start NAME COMMAND...: runs a component in its own session, logging to $LOGS/NAME.log.
start() {
	local name=$1
	shift
	setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
}

# --- network: bridge, Service route, forwarding confined to the bridge ------------------------
ip link add "$BRIDGE" type bridge
ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Service addresses follow the bridge even before kube-proxy programs them: an unprogrammed
# ClusterIP never takes the default route, and the host reaches programmed ones from the bridge IP.
ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$BRIDGE_IP"
nft -f - <<EOF
table inet $NFT_TABLE {
	chain forward {
		type filter hook forward priority -10; policy accept;
		iifname "$BRIDGE" oifname != "$BRIDGE" drop
		oifname "$BRIDGE" iifname != "$BRIDGE" drop
	}
}
EOF
# Pod -> ClusterIP -> pod is routed through the host (DNAT); bridged traffic must pass netfilter.
echo 1 >/proc/sys/net/ipv4/ip_forward
[[ -w /proc/sys/net/bridge/bridge-nf-call-iptables ]] && echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables

# --- containerd --------------------------------------------------------------------------------
PAUSE_IMAGE=$(awk '$2 ~ /\/pause:/ {print $2}' "$IMAGES_LIST")
[[ -n $PAUSE_IMAGE ]] || die "no pause image in $IMAGES_LIST"
mkdir -p "$RUN/containerd" "$RUN/cni/net.d" "$RUN/cni/ipam"
cat >"$RUN/containerd/config.toml" <<EOF
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CONTAINERD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Without CAP_SYS_RESOURCE (VMs, nested containers) a negative oom_score_adj fails runc create.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$RUN/cni/net.d"
    max_conf_num = 1
EOF
cat >"$RUN/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [{
    "type": "bridge",
    "bridge": "$BRIDGE",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": "$RUN/cni/ipam",
      "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }, {
    "type": "loopback"
  }]
}
EOF
start containerd containerd --config "$RUN/containerd/config.toml"
wait_for 30 "containerd" ctr --address "$CONTAINERD_SOCK" version

T_IMAGES=$SECONDS
while read -r tarball ref; do
	[[ -z $tarball || $tarball == \#* ]] && continue
	[[ $tarball == /* ]] || { [[ -f $ROOT/$tarball ]] && tarball=$ROOT/$tarball || tarball=$(dirname "$IMAGES_LIST")/$tarball; }
	[[ -f $tarball ]] || die "image tarball $tarball (listed in $IMAGES_LIST) is missing: run 'make images'"
	ctr_k8s images import "$tarball" >>"$LOGS/images.log" 2>&1 || die "importing $tarball failed (see $LOGS/images.log)"
	ctr_k8s images ls -q | grep -xF "$ref" >/dev/null || die "$tarball did not import as $ref (got: $(ctr_k8s images ls -q | tr '\n' ' '))"
done <"$IMAGES_LIST"
log "images imported in $((SECONDS - T_IMAGES))s: $(awk '{print $2}' "$IMAGES_LIST" | tr '\n' ' ')"

# --- control plane -----------------------------------------------------------------------------
start etcd "$ENVTEST_BIN/etcd" --name switchboard --data-dir "$RUN/etcd" \
	--listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
	--listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
	--initial-cluster "switchboard=http://$ETCD_PEER" --unsafe-no-fsync
# Pods reach the API server at the bridge address (the `kubernetes` Service's endpoint).
start kube-apiserver "$ENVTEST_BIN/kube-apiserver" \
	--etcd-servers "http://$ETCD_CLIENT" \
	--bind-address "$BRIDGE_IP" --advertise-address "$BRIDGE_IP" --secure-port "$API_PORT" \
	--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
	--client-ca-file "$PKI/ca.crt" \
	--kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
	--service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
	--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
	--service-cluster-ip-range "$SERVICE_CIDR" \
	--authorization-mode Node,RBAC --profiling=false
wait_for 120 "kube-apiserver /readyz" kubectl get --raw /readyz
start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
	--kubeconfig "$KUBECONFIG_FILE" --leader-elect=false --secure-port 0 \
	--service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
	--use-service-account-credentials --service-cluster-ip-range "$SERVICE_CIDR" \
	--cluster-cidr "$POD_CIDR" --allocate-node-cidrs=false --profiling=false
start kube-scheduler "$KUBE_BIN/kube-scheduler" \
	--kubeconfig "$KUBECONFIG_FILE" --leader-elect=false --secure-port 0 --profiling=false

# Cluster DNS on the bridge address: the Services of cluster.local, nothing else.
cat >"$RUN/Corefile" <<EOF
.:53 {
    bind $BRIDGE_IP
    ready 127.0.0.1:18181
    errors
    cache 5
    kubernetes $CLUSTER_DOMAIN in-addr.arpa {
        kubeconfig $KUBECONFIG_FILE
        ttl 5
    }
}
EOF
start coredns "$KUBE_BIN/coredns" -conf "$RUN/Corefile"

# --- node --------------------------------------------------------------------------------------
CGROUP_DRIVER=cgroupfs
FAIL_CGROUP_V1=true
[[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] || FAIL_CGROUP_V1=false
if [[ $FAIL_CGROUP_V1 == false ]]; then
	# cgroup v1: kubelet needs its cgroupRoot in every hierarchy; cpuset children start empty.
	for c in /sys/fs/cgroup/*/; do
		[[ $(stat -fc %T "$c") == cgroupfs ]] || continue
		mkdir -p "$c$CGROUP_ROOT"
		if [[ -f ${c}cpuset.cpus ]]; then
			cat "${c}cpuset.cpus" >"$c$CGROUP_ROOT/cpuset.cpus"
			cat "${c}cpuset.mems" >"$c$CGROUP_ROOT/cpuset.mems"
		fi
	done
else
	mkdir -p "/sys/fs/cgroup/$CGROUP_ROOT"
fi

mkdir -p "$RUN/kubelet" "$RUN/pod-logs" "$RUN/kubelet-plugins"
cat >"$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: $CGROUP_DRIVER
cgroupRoot: /$CGROUP_ROOT
failCgroupV1: $FAIL_CGROUP_V1
failSwapOn: false
# The machine's kernel settings are not the kubelet's to change (they are masked below).
protectKernelDefaults: false
# Lowering its own oom_score_adj needs CAP_SYS_RESOURCE, which VMs like this one do not grant.
oomScoreAdj: 0
clusterDNS: [$BRIDGE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: ""
podLogsDir: $RUN/pod-logs
volumePluginDir: $RUN/kubelet-plugins
# A shared CI machine: evict only when really out of resources, never collect imported images.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF

# kubelet sets vm.overcommit_memory, kernel.panic and kernel.panic_on_oops machine-wide. It runs
# in its own mount namespace where those files are masked by files already holding its values;
# its root dir is a shared mount so the volumes it mounts still reach containerd.
mkdir -p "$RUN/sysctl-mask"
echo 1 >"$RUN/sysctl-mask/overcommit_memory"
echo 10 >"$RUN/sysctl-mask/panic"
echo 1 >"$RUN/sysctl-mask/panic_on_oops"
mount --bind "$RUN/kubelet" "$RUN/kubelet"
mount --make-shared "$RUN/kubelet"
cat >"$RUN/kubelet.sh" <<EOF
#!/usr/bin/env bash
set -e
mount --make-rprivate /proc
mount --bind $RUN/sysctl-mask/overcommit_memory /proc/sys/vm/overcommit_memory
mount --bind $RUN/sysctl-mask/panic /proc/sys/kernel/panic
mount --bind $RUN/sysctl-mask/panic_on_oops /proc/sys/kernel/panic_on_oops
exec $KUBE_BIN/kubelet --config $RUN/kubelet.yaml --kubeconfig $KUBECONFIG_FILE \\
	--root-dir $RUN/kubelet --hostname-override $NODE_NAME --node-ip $BRIDGE_IP
EOF
chmod +x "$RUN/kubelet.sh"
start kubelet unshare --mount --propagation unchanged "$RUN/kubelet.sh"

cat >"$RUN/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBECONFIG_FILE}
hostnameOverride: $NODE_NAME
mode: nftables
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$BRIDGE_IP/32"]
healthzBindAddress: ""
metricsBindAddress: "127.0.0.1:10249"
# Leave the host's conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "$KUBE_BIN/kube-proxy" --config "$RUN/kube-proxy.yaml"

wait_for 60 "node $NODE_NAME Ready" kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
wait_for 30 "CoreDNS ready" curl -fsS http://127.0.0.1:18181/ready
for c in etcd kube-apiserver kube-controller-manager kube-scheduler coredns containerd kubelet kube-proxy; do
	pid_alive "$c" || die "$c exited (see $LOGS/$c.log)"
done
log "node $NODE_NAME Ready $((SECONDS - START))s after start (kubeconfig: $KUBECONFIG_FILE)"
echo "node_ready_seconds $((SECONDS - START))" >"$RUN/up.stats"
