//go:build chart

// Package chart tests the Helm chart in charts/switchboard: lint, golden templates, the values
// schema, the CRD and RBAC copies of config/, the README values table, and a real
// install/upgrade/uninstall against an envtest API server.
//
// Run with `make test-chart`: it builds bin/helm and the envtest binaries and sets HELM and
// KUBEBUILDER_ASSETS. A missing binary fails the tests; they never skip.
package chart

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files and the README values table")

const (
	releaseName      = "sb"
	releaseNamespace = "switchboard-system"
)

// repoRoot is the repository root, found from this file's location.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "switchboard") }

func testdata(t testing.TB, name string) string {
	return filepath.Join(repoRoot(t), "test", "chart", "testdata", name)
}

// helmBinary is $HELM, or bin/helm; the test fails when it is not there.
func helmBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("HELM")
	if path == "" {
		path = filepath.Join("bin", "helm")
	}
	if !filepath.IsAbs(path) { // relative to the repository root, as make passes it
		path = filepath.Join(repoRoot(t), path)
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		t.Fatalf("helm binary %s not found (build it with `make helm`, or run `make test-chart`): %v", path, err)
	}
	return path
}

// helmResult is the outcome of one helm invocation.
type helmResult struct {
	stdout, stderr string
	err            error
}

func (r helmResult) String() string {
	return "stdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// helm runs bin/helm with args in an isolated Helm home, so that no user configuration,
// repository cache or plugin influences the result.
func helm(t testing.TB, args ...string) helmResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := helmHome(t)
	cmd := exec.CommandContext(ctx, helmBinary(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return helmResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustHelm runs helm and fails the test when it fails.
func mustHelm(t testing.TB, args ...string) string {
	t.Helper()
	r := helm(t, args...)
	if r.err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), r.err, r)
	}
	return r.stdout
}

var helmHomeDir string

func helmHome(t testing.TB) string {
	if helmHomeDir == "" {
		dir, err := os.MkdirTemp("", "switchboard-chart-helm-")
		if err != nil {
			t.Fatal(err)
		}
		helmHomeDir = dir
	}
	return helmHomeDir
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if helmHomeDir != "" {
		_ = os.RemoveAll(helmHomeDir)
	}
	os.Exit(code)
}

// splitDocs splits a multi-document YAML stream into its non-empty documents.
func splitDocs(stream string) []string {
	var docs []string
	for _, doc := range strings.Split("\n"+stream, "\n---") {
		doc = strings.TrimSpace(doc)
		if doc != "" && strings.TrimSpace(stripComments(doc)) != "" {
			docs = append(docs, doc)
		}
	}
	return docs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
