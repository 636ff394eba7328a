# Every tool of the tests that is built on Kubernetes' packages, from one module
# (hack/tools/k8s) in one `go build`:
#   bin/cluster/   kubelet, kube-proxy, kube-controller-manager, kube-scheduler, kubectl, coredns
#                  (the one-node cluster, cluster.mk)
#   bin/envtest/   kube-apiserver, etcd (envtest, operator.mk; the cluster's control plane too)
#   bin/helm, bin/promtool (chart.mk), bin/controller-gen (operator.mk)
# One module gives each shared package one version, so the Go build cache compiles it once (from
# separate modules the same tools compiled about 5,300 packages instead of about 3,300), and one
# `go build` keeps both cores busy across what would be nine builds' serial starts and links.
# Read before the other hack/mk files: they use these paths in their prerequisites.
#
# The tag remove_all_sd leaves out Prometheus's service-discovery plugins (cloud SDKs, over half
# of promtool's source), which rule checks and rule unit tests never use. The link flags strip
# debug information (smaller binaries, faster links) and set Helm's version and its default
# Kubernetes version (1.<minor of k8s.io/client-go>; without it Helm assumes 1.20), as Helm's own
# Makefile does; -X for a package a binary does not contain is ignored.

K8S_TOOLS_MOD := hack/tools/k8s
K8S_TOOLS_BUILD_DIR := $(BIN)/.k8s-tools-build

HELM := $(BIN)/helm
PROMTOOL := $(BIN)/promtool
CONTROLLER_GEN := $(BIN)/controller-gen
ENVTEST_DIR := $(BIN)/envtest
ENVTEST_BINS := $(ENVTEST_DIR)/kube-apiserver $(ENVTEST_DIR)/etcd
KUBE_BIN_DIR := $(BIN)/cluster
KUBE_COMPONENTS := kubelet kube-proxy kube-controller-manager kube-scheduler kubectl
KUBE_BINS := $(addprefix $(KUBE_BIN_DIR)/,$(KUBE_COMPONENTS))
COREDNS := $(KUBE_BIN_DIR)/coredns
K8S_TOOLS := $(KUBE_BINS) $(COREDNS) $(ENVTEST_BINS) $(HELM) $(PROMTOOL) $(CONTROLLER_GEN)

# Main packages; each binary is named after its package's last element, which the recipe uses to
# move it to its place in K8S_TOOLS.
K8S_TOOLS_PKGS := $(addprefix k8s.io/kubernetes/cmd/,$(KUBE_COMPONENTS)) ./coredns \
	k8s.io/kubernetes/cmd/kube-apiserver ./etcd helm.sh/helm/v3/cmd/helm \
	github.com/prometheus/prometheus/cmd/promtool sigs.k8s.io/controller-tools/cmd/controller-gen

# A required module's version in hack/tools/k8s/go.mod (the require line, not a replace line).
k8s-tools-module-version = $(shell awk '$$1 == "$(1)" && $$2 ~ /^v/ {print $$2; exit}' $(K8S_TOOLS_MOD)/go.mod)
HELM_VERSION := $(call k8s-tools-module-version,helm.sh/helm/v3)
HELM_K8S_MINOR := $(word 2,$(subst ., ,$(call k8s-tools-module-version,k8s.io/client-go)))
K8S_TOOLS_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	$(foreach pkg,pkg/chartutil pkg/lint/rules,-X helm.sh/helm/v3/$(pkg).k8sVersionMajor=1 \
		-X helm.sh/helm/v3/$(pkg).k8sVersionMinor=$(HELM_K8S_MINOR))

TOOL_TARGETS += $(K8S_TOOLS)

.PHONY: k8s-tools

$(K8S_TOOLS) &: $(call inputs-stamp,k8s-tools,$(K8S_TOOLS_MOD)/go.mod $(K8S_TOOLS_MOD)/go.sum \
		$(wildcard $(K8S_TOOLS_MOD)/*/*.go) hack/mk/k8s-tools.mk)
	@echo "building $(notdir $(K8S_TOOLS)) (about 15 minutes on 2 idle cores the first time; reused afterwards)"
	rm -rf $(K8S_TOOLS_BUILD_DIR)
	cd $(K8S_TOOLS_MOD) && $(GO) build -tags remove_all_sd -ldflags "$(K8S_TOOLS_LDFLAGS)" \
		-o $(K8S_TOOLS_BUILD_DIR)/ $(K8S_TOOLS_PKGS)
	@for f in $(K8S_TOOLS); do mkdir -p $$(dirname $$f) && mv -f $(K8S_TOOLS_BUILD_DIR)/$$(basename $$f) $$f || exit 1; done
	rmdir $(K8S_TOOLS_BUILD_DIR)

k8s-tools: $(K8S_TOOLS) ## Build the Kubernetes-based tools (cluster components, envtest, Helm, promtool, controller-gen) once
