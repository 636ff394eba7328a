# Operator targets: code generation, envtest binaries and the operator test suite.
#
# controller-gen and envtest's kube-apiserver and etcd are built from the Go module proxy by
# k8s-tools.mk (a module of their own under hack/tools/, so their dependency graphs never touch the
# main go.mod), once, and again only when that module's content changes.

OPERATOR_PKGS := ./api/... ./controllers/... ./cmd/manager/...
# Generated paths checked by verify-manifests.
OPERATOR_GENERATED := config/crd config/rbac api

K8S_TEST_TARGETS += verify-manifests test-operator

.PHONY: manifests generate verify-manifests envtest-bins test-operator bench-operator run-manager

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
