# Helm chart targets: build Helm, sync the generated CRD and RBAC into the chart, and test it.
#
# Helm is built from the Go module proxy with hack/tools/helm (a module of its own, so Helm's
# Kubernetes dependencies never touch the main go.mod). bin/helm is a file target: built once
# and reused until hack/tools/helm/go.mod or go.sum changes.
#
# The chart's CRD (charts/switchboard/crds/) and its RBAC rules (charts/switchboard/files/rbac/)
# are byte-for-byte copies of controller-gen's output in config/: `make chart-sync` refreshes
# them and test-chart fails when they differ.

HELM := $(BIN)/helm
HELM_VERSION := $(shell awk '$$1 == "helm.sh/helm/v3" {print $$2}' hack/tools/helm/go.mod)
# Helm's default Kubernetes version (helm template, helm lint) is set at link time, as Helm's own
# Makefile does: 1.<minor of k8s.io/client-go>. Without it Helm assumes Kubernetes 1.20.
HELM_K8S_MINOR := $(shell awk '$$1 == "k8s.io/client-go" {split($$2, v, "."); print v[2]}' hack/tools/helm/go.mod)
HELM_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	$(foreach pkg,pkg/chartutil pkg/lint/rules,-X helm.sh/helm/v3/$(pkg).k8sVersionMajor=1 \
		-X helm.sh/helm/v3/$(pkg).k8sVersionMinor=$(HELM_K8S_MINOR))
# promtool checks and unit-tests the chart's alert rules (charts/switchboard/files/monitoring/);
# built from the Go module proxy with hack/tools/promtool, like Helm. The tag remove_all_sd leaves
# out Prometheus's service-discovery plugins (cloud SDKs: over half of the source to compile),
# which rule checks and rule unit tests never use.
PROMTOOL := $(BIN)/promtool
CHART_DIR := charts/switchboard
CHART_TEST_PKG := ./test/chart/

TEST_TARGETS += test-chart
K8S_TOOL_TARGETS += $(HELM) $(PROMTOOL)

.PHONY: helm promtool chart-sync chart-update test-chart

$(HELM): hack/tools/helm/go.mod hack/tools/helm/go.sum hack/mk/chart.mk
	cd hack/tools/helm && $(GO) build -trimpath -ldflags "$(HELM_LDFLAGS)" -o $@ helm.sh/helm/v3/cmd/helm

helm: $(HELM) ## Build Helm into bin/helm (once)

$(PROMTOOL): hack/tools/promtool/go.mod hack/tools/promtool/go.sum
	cd hack/tools/promtool && $(GO) build -trimpath -tags remove_all_sd -ldflags "-s -w" -o $@ github.com/prometheus/prometheus/cmd/promtool

promtool: $(PROMTOOL) ## Build promtool into bin/promtool (once)

chart-sync: ## Copy the generated CRD and RBAC rules from config/ into the chart
	rm -f $(CHART_DIR)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART_DIR)/crds/
	cp config/rbac/role.yaml config/rbac/leader_election_role.yaml config/rbac/metrics_auth_role.yaml \
		config/rbac/metrics_reader_role.yaml $(CHART_DIR)/files/rbac/

chart-update: chart-sync $(HELM) ## Regenerate the chart README values table and the golden files
	HELM=$(HELM) $(GO) test -tags chart -count=1 -run 'TestReadmeValuesTable|TestTemplateGolden' $(CHART_TEST_PKG) -update

# The tests carry the build tag "chart" so that `go test ./test/...` (the e2e target) does not
# run them a second time without Helm and the envtest binaries.
test-chart: $(HELM) $(PROMTOOL) envtest-bins ## Chart: lint, golden templates, schema, CRD/RBAC sync, install/upgrade/uninstall in envtest, alert rules and dashboard
	$(GO) vet -tags chart $(CHART_TEST_PKG)
	HELM=$(HELM) PROMTOOL=$(PROMTOOL) KUBEBUILDER_ASSETS=$(ENVTEST_DIR) $(GO) test -tags chart -count=1 -timeout 6m $(CHART_TEST_PKG)
