# One-node Kubernetes cluster on this machine, from source (docs/quickstart.md), and the end-to-end
# test of the user path on it (helm install, samples, Service, rolling update under load, drain
# and crash, media gate, key rotation, garbage collection).
#
# kubelet, kube-proxy, kube-controller-manager, kube-scheduler, kubectl and CoreDNS are built from
# the Go module proxy by k8s-tools.mk, with the envtest API server and etcd that run the cluster's
# control plane. containerd, runc, the CNI plugins and nftables are Debian packages (cluster-deps
# installs the missing ones). Needs root.

CLUSTER_DEB_PACKAGES := containerd runc containernetworking-plugins nftables iptables
CLUSTER_TEST_TIMEOUT ?= 30m

K8S_TEST_TARGETS += test-cluster
TOOL_TARGETS += cluster-deps

.PHONY: cluster-bins cluster-deps cluster-up cluster-down cluster-check-clean test-cluster

cluster-bins: $(KUBE_BINS) $(COREDNS) $(ENVTEST_BINS) $(HELM) ## Build the cluster's binaries (once)

cluster-deps: ## Install containerd, runc, the CNI plugins and nftables from Debian when missing
	@missing=; for p in $(CLUSTER_DEB_PACKAGES); do \
		dpkg-query -W -f '$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq --no-install-recommends $$missing; \
	fi

cluster-up: cluster-bins cluster-deps images ## Start the one-node cluster (root); kubeconfig: bin/cluster-run/admin.kubeconfig
	hack/cluster/up.sh

cluster-down: ## Stop the one-node cluster and remove everything it put on the host
	hack/cluster/down.sh
	hack/cluster/check-clean.sh

cluster-check-clean: ## Verify that nothing of the one-node cluster is left on the host
	hack/cluster/check-clean.sh

test-cluster: cluster-bins cluster-deps images node-deps ## The user path on a real one-node cluster (root; cleans up after itself)
	CLUSTER_TEST_TIMEOUT=$(CLUSTER_TEST_TIMEOUT) hack/cluster/test.sh
