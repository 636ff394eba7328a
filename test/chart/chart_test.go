//go:build chart

package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// valueSets are the golden-file cases: a values file under testdata (empty: the defaults) and
// the release namespace.
var valueSets = []struct {
	name, values string
}{
	{name: "default"},
	{name: "full", values: "values-full.yaml"},
	{name: "namespaced", values: "values-namespaced.yaml"},
}

func templateArgs(t *testing.T, valuesFile string, extra ...string) []string {
	args := []string{"template", releaseName, chartDir(t), "--namespace", releaseNamespace}
	if valuesFile != "" {
		args = append(args, "--values", testdata(t, valuesFile))
	}
	return append(args, extra...)
}

func TestLintPassesWithDefaultAndFullValues(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir(t), "--namespace", releaseNamespace}
			if vs.values != "" {
				args = append(args, "--values", testdata(t, vs.values))
			}
			out := mustHelm(t, args...)
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint did not report success:\n%s", out)
			}
		})
	}
}

// TestTemplateGolden renders the chart for each value set and compares it with
// testdata/golden/<name>.yaml; `go test -tags chart ./test/chart -update` rewrites them.
func TestTemplateGolden(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			got := mustHelm(t, templateArgs(t, vs.values)...)
			golden := testdata(t, filepath.Join("golden", vs.name+".yaml"))
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (create it with `make chart-update`)", err)
			}
			if got != string(want) {
				t.Fatalf("helm template output differs from %s (run `make chart-update` and review the diff):\n%s",
					golden, lineDiff(string(want), got))
			}
		})
	}
}

// TestRenderedWorkloadIsHardened checks the security properties every value set must keep.
func TestRenderedWorkloadIsHardened(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			objs := renderObjects(t, vs.values)
			dep := findObject(t, objs, "Deployment", "")
			pod := dig(t, dep, "spec", "template", "spec").(map[string]any)
			podSec := pod["securityContext"].(map[string]any)
			if podSec["runAsNonRoot"] != true {
				t.Errorf("pod securityContext.runAsNonRoot = %v, want true", podSec["runAsNonRoot"])
			}
			if got := dig(t, podSec, "seccompProfile", "type"); got != "RuntimeDefault" {
				t.Errorf("pod seccompProfile.type = %v, want RuntimeDefault", got)
			}
			containers := pod["containers"].([]any)
			if len(containers) != 1 {
				t.Fatalf("want 1 container, got %d", len(containers))
			}
			sec := containers[0].(map[string]any)["securityContext"].(map[string]any)
			if sec["allowPrivilegeEscalation"] != false || sec["readOnlyRootFilesystem"] != true {
				t.Errorf("container securityContext = %v, want allowPrivilegeEscalation=false, readOnlyRootFilesystem=true", sec)
			}
			if drop := dig(t, sec, "capabilities", "drop"); !reflect.DeepEqual(drop, []any{"ALL"}) {
				t.Errorf("capabilities.drop = %v, want [ALL]", drop)
			}
		})
	}
}

// TestChartCRDIsACopyOfConfig: the chart's crds/ holds exactly the controller-gen output in
// config/crd/bases, byte for byte.
func TestChartCRDIsACopyOfConfig(t *testing.T) {
	root := repoRoot(t)
	assertSameFiles(t, filepath.Join(root, "config", "crd", "bases"), filepath.Join(chartDir(t), "crds"), "*.yaml")
}

// TestChartRBACIsACopyOfConfig: the rules the chart renders come from byte-for-byte copies of
// config/rbac/role.yaml (generated from the RBAC markers) and leader_election_role.yaml.
func TestChartRBACIsACopyOfConfig(t *testing.T) {
	root := repoRoot(t)
	for _, name := range []string{"role.yaml", "leader_election_role.yaml", "metrics_auth_role.yaml", "metrics_reader_role.yaml"} {
		want := readFile(t, filepath.Join(root, "config", "rbac", name))
		got := readFile(t, filepath.Join(chartDir(t), "files", "rbac", name))
		if !bytes.Equal(want, got) {
			t.Errorf("charts/switchboard/files/rbac/%s differs from config/rbac/%s: run `make chart-sync`", name, name)
		}
	}
}

// TestRenderedRBACRulesMatchGeneratedRole: in both scopes, the manager's (Cluster)Role has exactly
// the rules of config/rbac/role.yaml, and the leader-election Role those of config/rbac.
func TestRenderedRBACRulesMatchGeneratedRole(t *testing.T) {
	root := repoRoot(t)
	managerRules := rulesOf(t, readFile(t, filepath.Join(root, "config", "rbac", "role.yaml")))
	leaderRules := rulesOf(t, readFile(t, filepath.Join(root, "config", "rbac", "leader_election_role.yaml")))

	cases := []struct {
		values, managerKind, managerNamespace, bindingKind string
	}{
		{values: "", managerKind: "ClusterRole", bindingKind: "ClusterRoleBinding"},
		{values: "values-namespaced.yaml", managerKind: "Role", managerNamespace: "signaling", bindingKind: "RoleBinding"},
	}
	for _, tc := range cases {
		t.Run(tc.managerKind, func(t *testing.T) {
			objs := renderObjects(t, tc.values)
			name := releaseName + "-switchboard-operator-manager"
			role := findObject(t, objs, tc.managerKind, name)
			if ns := metaField(role, "namespace"); ns != tc.managerNamespace {
				t.Errorf("%s %s namespace = %q, want %q", tc.managerKind, name, ns, tc.managerNamespace)
			}
			if got := rulesOf(t, toYAML(t, role)); !reflect.DeepEqual(got, managerRules) {
				t.Errorf("%s rules differ from config/rbac/role.yaml:\n got %+v\nwant %+v", tc.managerKind, got, managerRules)
			}
			binding := findObject(t, objs, tc.bindingKind, name)
			if got := dig(t, binding, "roleRef", "kind"); got != tc.managerKind {
				t.Errorf("%s roleRef.kind = %v, want %s", tc.bindingKind, got, tc.managerKind)
			}
			subject := dig(t, binding, "subjects").([]any)[0].(map[string]any)
			if subject["namespace"] != releaseNamespace || subject["name"] != releaseName+"-switchboard-operator" {
				t.Errorf("%s subject = %v, want the operator ServiceAccount in %s", tc.bindingKind, subject, releaseNamespace)
			}
			for _, o := range objs {
				if tc.managerKind == "Role" && (o["kind"] == "ClusterRole" || o["kind"] == "ClusterRoleBinding") {
					t.Errorf("namespace scope renders cluster-wide %s %s", o["kind"], metaField(o, "name"))
				}
			}
			leader := findObject(t, objs, "Role", releaseName+"-switchboard-operator-leader-election")
			if ns := metaField(leader, "namespace"); ns != releaseNamespace {
				t.Errorf("leader-election Role namespace = %q, want the release namespace %q", ns, releaseNamespace)
			}
			if got := rulesOf(t, toYAML(t, leader)); !reflect.DeepEqual(got, leaderRules) {
				t.Errorf("leader-election rules differ from config/rbac/leader_election_role.yaml:\n got %+v\nwant %+v", got, leaderRules)
			}
		})
	}
}

// TestSchemaRejectsBadValues: wrong types, unknown keys and out-of-range values fail at
// template/install time with a message naming the offending value.
func TestSchemaRejectsBadValues(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string // substrings of the error output
	}{
		{"wrong type replicaCount", []string{"--set-string", "replicaCount=two"}, []string{"/replicaCount", "want integer"}},
		{"wrong type metrics.enabled", []string{"--set-string", "metrics.enabled=yes"}, []string{"/metrics/enabled", "want boolean"}},
		{"unknown top-level key", []string{"--set", "replicas=2"}, []string{"additional properties 'replicas' not allowed"}},
		{"unknown nested key", []string{"--set", "image.repo=example.com/op"}, []string{"/image", "additional properties 'repo' not allowed"}},
		{"scope mode enum", []string{"--set", "scope.mode=everywhere"}, []string{"/scope/mode", "cluster", "namespace"}},
		{"pull policy enum", []string{"--set", "image.pullPolicy=Sometimes"}, []string{"/image/pullPolicy"}},
		{"port out of range", []string{"--set", "metrics.port=70000"}, []string{"/metrics/port", "maximum"}},
		{"log level enum", []string{"--set", "operator.logLevel=verbose"}, []string{"/operator/logLevel"}},
		{"bad digest", []string{"--set", "image.digest=latest"}, []string{"/image/digest"}},
		{"bad watch namespace", []string{"--set", "scope.mode=namespace", "--set", "scope.namespace=Team_A"}, []string{"/scope/namespace"}},
		{"replicas without leader election", []string{"--set", "replicaCount=2", "--set", "leaderElection.enabled=false"}, []string{"replicaCount > 1 needs leaderElection.enabled=true"}},
		{"signaling cluster without a key", []string{"--set", "signalingCluster.enabled=true"}, []string{"signalingCluster.enabled=true needs a token key"}},
		{"service monitor without metrics", []string{"--set", "metrics.enabled=false", "--set", "metrics.serviceMonitor.enabled=true"}, []string{"needs metrics.enabled=true"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := helm(t, templateArgs(t, "", tc.args...)...)
			if r.err == nil {
				t.Fatalf("helm template %v succeeded, want a schema/validation error", tc.args)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("error output lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}

// TestSignalingClusterWithRelease: signalingCluster.enabled renders a SignalingCluster whose auth
// points at a Secret holding the given PEM key, keeping the rest of the spec as given, in a
// namespace the operator watches.
func TestSignalingClusterWithRelease(t *testing.T) {
	pem := "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
	keyFile := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(keyFile, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustHelm(t, templateArgs(t, "", "--set", "signalingCluster.enabled=true",
		"--set-file", "signalingCluster.jwtPublicKey="+keyFile, "--set", "signalingCluster.spec.replicas=3")...)
	objs := parseObjects(t, out)
	sc := findObject(t, objs, "SignalingCluster", releaseName)
	if got := dig(t, sc, "spec", "auth", "publicKeySecretRef"); !reflect.DeepEqual(got, map[string]any{"name": releaseName + "-jwt", "key": "public.pem"}) {
		t.Errorf("spec.auth.publicKeySecretRef = %v", got)
	}
	if got := dig(t, sc, "spec", "replicas"); got != float64(3) {
		t.Errorf("spec.replicas = %v, want 3", got)
	}
	if got := dig(t, sc, "spec", "redis", "managed"); got != true {
		t.Errorf("spec.redis.managed = %v, want the default true", got)
	}
	secret := findObject(t, objs, "Secret", releaseName+"-jwt")
	if got := dig(t, secret, "data", "public.pem"); got == "" {
		t.Error("the JWT Secret has no public.pem")
	}

	// With namespace scope it goes where the operator looks: the watched namespace.
	scoped := parseObjects(t, mustHelm(t, templateArgs(t, "", "--set", "signalingCluster.enabled=true",
		"--set-file", "signalingCluster.jwtPublicKey="+keyFile, "--set", "scope.mode=namespace", "--set", "scope.namespace=team-b")...))
	for _, kind := range []string{"SignalingCluster", "Secret"} {
		name := releaseName
		if kind == "Secret" {
			name += "-jwt"
		}
		if ns := metaField(findObject(t, scoped, kind, name), "namespace"); ns != "team-b" {
			t.Errorf("namespace scope: %s namespace = %q, want the watched namespace team-b", kind, ns)
		}
	}

	// Off by default.
	for _, o := range renderObjects(t, "") {
		if o["kind"] == "SignalingCluster" {
			t.Fatal("a SignalingCluster is rendered with default values")
		}
	}
}

func assertSameFiles(t *testing.T, wantDir, gotDir, pattern string) {
	t.Helper()
	want, _ := filepath.Glob(filepath.Join(wantDir, pattern))
	got, _ := filepath.Glob(filepath.Join(gotDir, pattern))
	if len(want) == 0 {
		t.Fatalf("no %s in %s: has `make manifests` run?", pattern, wantDir)
	}
	names := func(paths []string) []string {
		var n []string
		for _, p := range paths {
			n = append(n, filepath.Base(p))
		}
		return n
	}
	if !reflect.DeepEqual(names(want), names(got)) {
		t.Fatalf("%s has %v, %s has %v: run `make chart-sync`", gotDir, names(got), wantDir, names(want))
	}
	for _, p := range want {
		if !bytes.Equal(readFile(t, p), readFile(t, filepath.Join(gotDir, filepath.Base(p)))) {
			t.Errorf("%s differs from %s: run `make chart-sync` (never edit the chart copy by hand)",
				filepath.Join(gotDir, filepath.Base(p)), p)
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rulesOf(t *testing.T, doc []byte) []rbacv1.PolicyRule {
	t.Helper()
	var role struct {
		Rules []rbacv1.PolicyRule `json:"rules"`
	}
	if err := yaml.Unmarshal(doc, &role); err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) == 0 {
		t.Fatalf("no rules in\n%s", doc)
	}
	return role.Rules
}

func toYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// renderObjects runs helm template with a values file from testdata ("" for the defaults).
func renderObjects(t *testing.T, valuesFile string) []map[string]any {
	t.Helper()
	return parseObjects(t, mustHelm(t, templateArgs(t, valuesFile)...))
}

func parseObjects(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, doc := range splitDocs(stream) {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs
}

// findObject returns the one object of kind (and name, when not empty).
func findObject(t *testing.T, objs []map[string]any, kind, name string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, o := range objs {
		if o["kind"] == kind && (name == "" || metaField(o, "name") == name) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s %q, found %d", kind, name, len(found))
	}
	return found[0]
}

func metaField(o map[string]any, field string) string {
	meta, _ := o["metadata"].(map[string]any)
	s, _ := meta[field].(string)
	return s
}

// dig walks nested maps; it fails the test when a key is missing.
func dig(t *testing.T, v any, path ...string) any {
	t.Helper()
	for i, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object", strings.Join(path[:i], "."))
		}
		if v, ok = m[key]; !ok {
			t.Fatalf("%s is missing", strings.Join(path[:i+1], "."))
		}
	}
	return v
}

// lineDiff shows where two texts start to differ, with a few lines of context from each.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	first := 0
	for first < len(w) && first < len(g) && w[first] == g[first] {
		first++
	}
	excerpt := func(lines []string) string {
		from, to := max(first-3, 0), min(first+8, len(lines))
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString(strconv.Itoa(i+1) + ": " + lines[i] + "\n")
		}
		return b.String()
	}
	return "first difference at line " + strconv.Itoa(first+1) + "\n--- want\n" + excerpt(w) + "+++ got\n" + excerpt(g)
}
