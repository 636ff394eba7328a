# One-node Kubernetes cluster on this machine, from source (docs/quickstart.md), and the end-to-end
# test of the user path on it (helm install, samples, Service, rolling update under load, drain
# and crash, media gate, key rotation, garbage collection).
#
# kubelet, kube-proxy, kube-controller-manager, kube-scheduler and kubectl are built from the Go
# module proxy with hack/tools/kube (k8s.io/kubernetes, the version of the envtest API server),
# CoreDNS with hack/tools/coredns; etcd and kube-apiserver are the envtest builds. Each binary is a
# file target, built once. containerd, runc, the CNI plugins and nftables are Debian packages
# (cluster-deps installs the missing ones). Needs root.

KUBE_BIN_DIR := $(BIN)/cluster
KUBE_COMPONENTS := kubelet kube-proxy kube-controller-manager kube-scheduler kubectl
KUBE_BINS := $(addprefix $(KUBE_BIN_DIR)/,$(KUBE_COMPONENTS))
COREDNS := $(KUBE_BIN_DIR)/coredns
CLUSTER_DEB_PACKAGES := containerd runc containernetworking-plugins nftables iptables
CLUSTER_TEST_TIMEOUT ?= 30m

TEST_TARGETS += test-cluster
K8S_TOOL_TARGETS += $(KUBE_BINS) $(COREDNS)
TOOL_TARGETS += cluster-deps

.PHONY: cluster-bins cluster-deps cluster-up cluster-down cluster-check-clean test-cluster

# One `go build` for the five components: they share most of their packages.
$(KUBE_BINS) &: hack/tools/kube/go.mod hack/tools/kube/go.sum
	@echo "building $(KUBE_COMPONENTS) (about 20 minutes on 2 cores the first time; reused afterwards)"
	cd hack/tools/kube && $(GO) build -o $(KUBE_BIN_DIR)/ $(addprefix k8s.io/kubernetes/cmd/,$(KUBE_COMPONENTS))
	@touch $(KUBE_BINS)

$(COREDNS): hack/tools/coredns/go.mod hack/tools/coredns/go.sum hack/tools/coredns/main.go
	cd hack/tools/coredns && $(GO) build -o $@ .

# Literal paths: operator.mk and chart.mk define these targets but are read after this file.
cluster-bins: $(KUBE_BINS) $(COREDNS) $(BIN)/envtest/kube-apiserver $(BIN)/envtest/etcd $(BIN)/helm ## Build the cluster's binaries (once)

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
