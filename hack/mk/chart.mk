# Helm chart targets: build Helm, sync the generated CRD and RBAC into the chart, and test it.
#
# Helm and promtool (which checks and unit-tests the chart's alert rules) are built with the other
# Kubernetes-based tools by k8s-tools.mk.
#
# The chart's CRD (charts/switchboard/crds/) and its RBAC rules (charts/switchboard/files/rbac/)
# are byte-for-byte copies of controller-gen's output in config/: `make chart-sync` refreshes
# them and test-chart fails when they differ.

CHART_DIR := charts/switchboard
CHART_TEST_PKG := ./test/chart/

K8S_TEST_TARGETS += test-chart

.PHONY: helm promtool chart-sync chart-update test-chart

helm: $(HELM) ## Build Helm into bin/helm (once)

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
