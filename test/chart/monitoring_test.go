//go:build chart

package chart

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
	"github.com/switchboard-rtc/switchboard/controllers"
	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
)

// promtoolBinary is $PROMTOOL, or bin/promtool; the test fails when it is not there.
func promtoolBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("PROMTOOL")
	if path == "" {
		path = filepath.Join("bin", "promtool")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(repoRoot(t), path)
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		t.Fatalf("promtool binary %s not found (build it with `make promtool`, or run `make test-chart`): %v", path, err)
	}
	return path
}

func alertsFile(t testing.TB) string {
	return filepath.Join(chartDir(t), "files", "monitoring", "alerts.yaml")
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtoolBinary(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAlertRulesPassPromtoolCheck: the shipped rule file is valid Prometheus rules.
func TestAlertRulesPassPromtoolCheck(t *testing.T) {
	promtool(t, "check", "rules", alertsFile(t))
}

// TestAlertRulesUnitTests: each alert fires on its situation and not before (promtool test rules).
func TestAlertRulesUnitTests(t *testing.T) {
	promtool(t, "test", "rules", testdata(t, filepath.Join("monitoring", "alerts_test.yaml")))
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(alertsFile(t))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	return rf
}

// TestEveryAlertHasAFiringUnitTestAndARunbook: the alerts exist, each has a promtool
// case that expects it to fire, and a runbook section in docs/operations.md that its
// annotation points at.
func TestEveryAlertHasAFiringUnitTestAndARunbook(t *testing.T) {
	testsRaw, err := os.ReadFile(testdata(t, filepath.Join("monitoring", "alerts_test.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string            `json:"alertname"`
				ExpAlerts []json.RawMessage `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(testsRaw, &tests); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			fires[a.Alertname] = fires[a.Alertname] || len(a.ExpAlerts) > 0
		}
	}
	ops, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			if !fires[r.Alert] {
				t.Errorf("alert %s has no promtool test case in which it fires", r.Alert)
			}
			if want := "docs/operations.md#" + strings.ToLower(r.Alert); r.Annotations["runbook"] != want {
				t.Errorf("alert %s: runbook annotation %q, want %q", r.Alert, r.Annotations["runbook"], want)
			}
			if !regexp.MustCompile(`(?m)^#+ ` + r.Alert + `$`).Match(ops) {
				t.Errorf("docs/operations.md has no runbook heading %q", r.Alert)
			}
		}
	}
	for _, want := range []string{"SwitchboardNoReadySignalingPods", "SwitchboardRedisDegraded", "SwitchboardMediaGateOpen",
		"SwitchboardChatBufferNearBound", "SwitchboardSlowConsumerDisconnects", "SwitchboardDrainTooLong"} {
		if !slices.Contains(names, want) {
			t.Errorf("alert %s is missing", want)
		}
	}
}

var metricName = regexp.MustCompile(`\bswitchboard_[a-z0-9_]+\b`)

// exportedMetricNames scrapes a real signaling node's /metrics (after a join, so that labelled
// families have a series) and gathers the operator's per-cluster metrics.
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}

	n := nodetest.Start(t, nodetest.Config{})
	// Two members, so that the second join is delivered to the first (events_sent_total).
	alice, bob := nodetest.Connect(t, n, "alice"), nodetest.Connect(t, n, "bob")
	for _, c := range []interface {
		Call(context.Context, string, any, any) error
	}{alice, bob} {
		if err := c.Call(nodetest.Ctx(t, 5*time.Second), "join_room", map[string]string{"roomId": "r1"}, nil); err != nil {
			t.Fatalf("join_room: %v", err)
		}
	}
	if _, ok := alice.Next(nodetest.Ctx(t, 5*time.Second), "user_joined"); !ok {
		t.Fatal("alice did not see bob join")
	}
	resp, err := http.Get(n.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		names[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
	}

	reg := prometheus.NewRegistry()
	m := controllers.NewClusterMetrics(reg)
	sc := &v1alpha1.SignalingCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "rt", Name: "sig"}}
	sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://sfu"}
	st := &v1alpha1.SignalingClusterStatus{DrainingReplicas: 1, Conditions: []metav1.Condition{
		{Type: v1alpha1.ConditionMediaServiceHealthy, Status: metav1.ConditionFalse}}}
	m.Observe(sc, st, time.Now())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = true
	}
	return names
}

// TestDashboardAndAlertsQueryExportedMetrics: the dashboard JSON parses, and every metric its
// panels, its variables and the alerts name is one the node or the operator really exports.
func TestDashboardAndAlertsQueryExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "files", "monitoring", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard.json does not parse: %v", err)
	}
	queries := map[string]string{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, tg := range p.Targets {
			queries["panel "+p.Title+" #"+string(rune('A'+i))] = tg.Expr
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			queries["variable "+v.Definition] = v.Definition
		}
	}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			queries["alert "+r.Alert] = r.Expr
		}
	}

	exported := exportedMetricNames(t)
	for where, q := range queries {
		used := metricName.FindAllString(q, -1)
		if len(used) == 0 {
			t.Errorf("%s names no switchboard metric: %s", where, q)
		}
		for _, name := range used {
			if !exported[name] {
				t.Errorf("%s queries %s, which neither the node nor the operator exports", where, name)
			}
		}
	}
	for _, want := range []string{"Connections", "Joins per second", "Deliveries per second", "Cross-node delivery latency",
		"Redis bus latency (PUBLISH round trip)", "Chat buffer depth and bound", "Media breaker and gate", "Drain progress"} {
		found := false
		for _, p := range dash.Panels {
			found = found || p.Title == want
		}
		if !found {
			t.Errorf("dashboard has no panel %q", want)
		}
	}
}
