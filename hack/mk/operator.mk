# Operator targets: code generation, envtest binaries and the operator test suite.
#
# Every tool is built from the Go module proxy with the modules under hack/tools/ (one module per
# tool, so their dependency graphs never touch the main go.mod). Each binary is a file target: it
# is built once and reused until its hack/tools/<tool>/go.mod changes.

CONTROLLER_GEN := $(BIN)/controller-gen
ENVTEST_DIR := $(BIN)/envtest
ENVTEST_BINS := $(ENVTEST_DIR)/kube-apiserver $(ENVTEST_DIR)/etcd
OPERATOR_PKGS := ./api/... ./controllers/... ./cmd/manager/...
# Generated paths checked by verify-manifests.
OPERATOR_GENERATED := config/crd config/rbac api

TEST_TARGETS += verify-manifests test-operator
K8S_TOOL_TARGETS += $(ENVTEST_DIR)/kube-apiserver
TOOL_TARGETS += $(CONTROLLER_GEN) $(ENVTEST_DIR)/etcd

.PHONY: manifests generate verify-manifests envtest-bins test-operator bench-operator run-manager

$(CONTROLLER_GEN): hack/tools/controller-gen/go.mod hack/tools/controller-gen/go.sum
	cd hack/tools/controller-gen && $(GO) build -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen

$(ENVTEST_DIR)/kube-apiserver: hack/tools/kube-apiserver/go.mod hack/tools/kube-apiserver/go.sum
	@echo "building kube-apiserver for envtest (several minutes the first time; reused afterwards)"
	cd hack/tools/kube-apiserver && $(GO) build -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(ENVTEST_DIR)/etcd: hack/tools/etcd/go.mod hack/tools/etcd/go.sum hack/tools/etcd/main.go
	cd hack/tools/etcd && $(GO) build -o $@ .

envtest-bins: $(ENVTEST_BINS) ## Build kube-apiserver and etcd for envtest into bin/envtest (once)

manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC manifests from the API and controller markers
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods of the API types
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

verify-manifests: manifests generate ## Fail when generated manifests or code are not committed
	@git diff --exit-code -- $(OPERATOR_GENERATED) || \
		{ echo "generated files are stale: run 'make manifests generate' and commit"; exit 1; }

test-operator: $(ENVTEST_BINS) ## Operator unit + envtest suites (real kube-apiserver, etcd, redis-server)
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) $(GO) test -count=1 -timeout 10m $(OPERATOR_PKGS)

bench-operator: $(ENVTEST_BINS) ## Reconcile latency / convergence with 500 SignalingClusters in envtest
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) $(GO) test -count=1 -timeout 20m -run '^$$' -bench BenchmarkConvergence -benchtime 1x ./controllers/

run-manager: manifests ## Run the manager against the current kubeconfig
	$(GO) run ./cmd/manager
