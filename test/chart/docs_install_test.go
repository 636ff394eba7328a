//go:build chart

package chart

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// hardenedSection is the heading of the production install in docs/operator.md and the chart
// README; both carry the same commands and SignalingCluster.
const hardenedSection = "## A hardened production install"

// TestDocumentedHardenedInstall renders the documented production `helm install` and checks what
// the docs promise of it: namespace scope (no ClusterRole grants Secrets), labelled Secrets that
// are exactly the ones the operator reads, NetworkPolicies and the image allow-list on, the four
// monitoring objects, and a metrics-reader ClusterRole under the name the documented binding uses.
func TestDocumentedHardenedInstall(t *testing.T) {
	root := repoRoot(t)
	blocks := map[string]map[string]string{}
	for _, doc := range []string{filepath.Join("docs", "operator.md"), filepath.Join("charts", "switchboard", "README.md")} {
		blocks[doc] = fencedBlocks(t, string(readFile(t, filepath.Join(root, doc))), hardenedSection)
	}
	docs := map[string]string{}
	for _, lang := range []string{"sh", "yaml"} {
		a, b := blocks[filepath.Join("docs", "operator.md")][lang], blocks[filepath.Join("charts", "switchboard", "README.md")][lang]
		if a == "" || a != b {
			t.Fatalf("the %s blocks of %q differ between docs/operator.md and the chart README (or are missing):\n%s", lang, hardenedSection, lineDiff(a, b))
		}
		docs[lang] = a
	}

	var helmArgs, labelledSecrets []string
	var createdSecrets, readerRole string
	namespaceRestricted := false
	for _, cmd := range shellCommands(docs["sh"]) {
		switch {
		case len(cmd) > 2 && cmd[0] == "helm" && cmd[1] == "install":
			helmArgs = cmd[2:]
		case slices.Equal(cmd, []string{"kubectl", "label", "namespace", "rtc", "pod-security.kubernetes.io/enforce=restricted"}):
			namespaceRestricted = true
		case len(cmd) > 4 && cmd[0] == "kubectl" && cmd[3] == "label" && cmd[4] == "secret":
			for _, a := range cmd[5:] {
				if a != "signaling.switchboard.dev/use=true" {
					labelledSecrets = append(labelledSecrets, a)
				}
			}
		case len(cmd) > 5 && cmd[0] == "kubectl" && cmd[3] == "create" && cmd[4] == "secret":
			createdSecrets += " " + cmd[6]
		case len(cmd) > 2 && cmd[0] == "kubectl" && cmd[1] == "create" && cmd[2] == "clusterrolebinding":
			for _, a := range cmd {
				if v, ok := strings.CutPrefix(a, "--clusterrole="); ok {
					readerRole = v
				}
			}
		}
	}
	if !namespaceRestricted {
		t.Error("the install does not make its namespace enforce the restricted Pod Security Standard")
	}
	if len(helmArgs) < 2 || helmArgs[1] != "charts/switchboard" {
		t.Fatalf("no `helm install <release> charts/switchboard` in the documented commands: %v", helmArgs)
	}

	// The SignalingCluster reads exactly the labelled Secrets; the bus key is not read, so unlabelled.
	var sc struct {
		Metadata struct{ Namespace string }
		Spec     struct {
			Redis struct {
				Managed           bool
				Username          string
				TLS               bool
				PasswordSecretRef struct{ Name string }
				BusKeySecretRef   struct{ Name string }
			}
			Auth struct{ PublicKeySecretRef struct{ Name string } }
		}
	}
	if err := yaml.Unmarshal([]byte(docs["yaml"]), &sc); err != nil {
		t.Fatal(err)
	}
	read := []string{sc.Spec.Redis.PasswordSecretRef.Name, sc.Spec.Auth.PublicKeySecretRef.Name}
	slices.Sort(read)
	slices.Sort(labelledSecrets)
	if !slices.Equal(read, labelledSecrets) {
		t.Errorf("labelled Secrets %v, but the SignalingCluster has the operator read %v", labelledSecrets, read)
	}
	for _, name := range append(read, sc.Spec.Redis.BusKeySecretRef.Name) {
		if !strings.Contains(createdSecrets+" ", " "+name+" ") {
			t.Errorf("the SignalingCluster refers to Secret %q, which the commands do not create", name)
		}
	}
	if sc.Spec.Redis.Managed || sc.Spec.Redis.Username == "" || !sc.Spec.Redis.TLS || sc.Spec.Redis.BusKeySecretRef.Name == "" {
		t.Errorf("the SignalingCluster's Redis %+v: want an external Redis with an ACL user, TLS and a bus key", sc.Spec.Redis)
	}

	args := append([]string{"template", helmArgs[0], chartDir(t)}, helmArgs[2:]...)
	ns := flagValue(args, "--namespace")
	if ns == "" || sc.Metadata.Namespace != ns {
		t.Fatalf("release namespace %q, SignalingCluster namespace %q: want the same", ns, sc.Metadata.Namespace)
	}
	objs := parseObjects(t, mustHelm(t, args...))

	for _, o := range objs {
		if o["kind"] != "ClusterRole" {
			continue
		}
		rules, _ := o["rules"].([]any)
		for _, r := range rules {
			resources, _ := r.(map[string]any)["resources"].([]any)
			if slices.Contains(resources, any("secrets")) {
				t.Errorf("ClusterRole %s grants Secrets: the install is not namespace-scoped", metaField(o, "name"))
			}
		}
	}
	secretsRole := false
	for _, o := range objs {
		if o["kind"] == "Role" && metaField(o, "namespace") == ns && strings.Contains(string(toYAML(t, o["rules"])), "secrets") {
			secretsRole = true
		}
	}
	if !secretsRole {
		t.Errorf("no Role in %s gives the operator its Secrets", ns)
	}

	dep := findObject(t, objs, "Deployment", "")
	container := dig(t, dep, "spec", "template", "spec", "containers").([]any)[0]
	managerArgs := strings.Join(toStrings(dig(t, container, "args")), " ")
	for _, want := range []string{"--namespace=" + ns, "--network-policies=true", "--operator-pod-labels=",
		"--allowed-image-prefixes=ghcr.io/switchboard-rtc/", "--metrics-secure=true"} {
		if !strings.Contains(managerArgs, want) {
			t.Errorf("manager args lack %s: %s", want, managerArgs)
		}
	}
	for _, kind := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule", "PodDisruptionBudget"} {
		findObject(t, objs, kind, "")
	}
	dashboards := 0
	for _, o := range objs {
		if labels, _ := dig(t, o, "metadata").(map[string]any)["labels"].(map[string]any); o["kind"] == "ConfigMap" && labels["grafana_dashboard"] == "1" {
			dashboards++
		}
	}
	if dashboards != 1 {
		t.Errorf("%d Grafana dashboard ConfigMaps, want 1", dashboards)
	}
	reader := findObject(t, objs, "ClusterRole", readerRole)
	if got := string(toYAML(t, reader["rules"])); !strings.Contains(got, "/metrics") {
		t.Errorf("ClusterRole %s (bound to Prometheus by the docs) does not allow /metrics:\n%s", readerRole, got)
	}
}

// fencedBlocks returns the fenced code blocks of the section under heading, by language.
func fencedBlocks(t *testing.T, doc, heading string) map[string]string {
	t.Helper()
	start := strings.Index(doc, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("no section %q", heading)
	}
	section := doc[start+len(heading)+2:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	blocks := map[string]string{}
	for {
		open := strings.Index(section, "```")
		if open < 0 {
			return blocks
		}
		rest := section[open+3:]
		lang, body, ok := strings.Cut(rest, "\n")
		if !ok {
			return blocks
		}
		end := strings.Index(body, "```")
		if end < 0 {
			t.Fatalf("unterminated code block in %q", heading)
		}
		if _, dup := blocks[lang]; dup {
			t.Fatalf("two %s blocks in %q", lang, heading)
		}
		blocks[lang] = body[:end]
		section = body[end+3:]
	}
}

// shellCommands splits a shell snippet into commands and their words: backslash-newline
// continues a line, single and double quotes group words (variables stay unexpanded).
func shellCommands(script string) [][]string {
	var cmds [][]string
	for _, line := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
		var words []string
		var word strings.Builder
		inWord, quote := false, rune(0)
		for _, r := range line {
			switch {
			case quote != 0 && r == quote:
				quote = 0
			case quote != 0:
				word.WriteRune(r)
			case r == '\'' || r == '"':
				quote, inWord = r, true
			case r == ' ' || r == '\t':
				if inWord {
					words = append(words, word.String())
					word.Reset()
					inWord = false
				}
			default:
				word.WriteRune(r)
				inWord = true
			}
		}
		if inWord {
			words = append(words, word.String())
		}
		if len(words) > 0 && !strings.HasPrefix(words[0], "#") {
			cmds = append(cmds, words)
		}
	}
	return cmds
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
