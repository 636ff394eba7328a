//go:build cluster

package cluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// env is the running one-node cluster (hack/cluster/up.sh) and the tools the test drives it with.
type env struct {
	root       string
	kubeconfig string
	kubectlBin string
	helmBin    string
	cs         *kubernetes.Clientset
	images     map[string]string // image name (signaling, manager, pause, mediastub, redis) → ref
	numbers    *os.File
}

func newEnv(t *testing.T) *env {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	e := &env{
		root:       root,
		kubeconfig: filepath.Join(root, "bin", "cluster-run", "admin.kubeconfig"),
		kubectlBin: filepath.Join(root, "bin", "cluster", "kubectl"),
		helmBin:    filepath.Join(root, "bin", "helm"),
	}
	for _, f := range []string{e.kubeconfig, e.kubectlBin, e.helmBin} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v: the cluster test runs on the one-node cluster: use `make test-cluster`", err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if e.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	e.images = readImageList(t, filepath.Join(root, "bin", "images", "images.txt"))
	if e.numbers, err = os.Create(filepath.Join(root, "bin", "cluster-logs", "numbers.txt")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.numbers.Close() })
	return e
}

// readImageList maps each image's name (the last path element of its repository) to its ref.
func readImageList(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run `make images`", err)
	}
	images := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		repo, _, _ := strings.Cut(f[1][strings.LastIndex(f[1], "/")+1:], ":")
		images[repo] = f[1]
	}
	for _, want := range []string{"signaling", "manager", "mediastub", "redis"} {
		if images[want] == "" {
			t.Fatalf("%s lists no %s image", path, want)
		}
	}
	return images
}

// record logs a measured figure and keeps it in bin/cluster-logs/numbers.txt for docs/benchmarks.md.
func (e *env) record(t *testing.T, name string, format string, args ...any) {
	t.Helper()
	v := fmt.Sprintf(format, args...)
	t.Logf("NUMBER %s = %s", name, v)
	fmt.Fprintf(e.numbers, "%s %s\n", name, v)
}

// run runs a tool against the cluster and returns its combined output.
func (e *env) run(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (e *env) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.run(e.kubectlBin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) kubectlStdin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(e.kubectlBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (e *env) helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.run(e.helmBin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond every 200 ms until it holds; the timeout is a failure bound, not a
// measurement. It returns how long it took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) time.Duration {
	t.Helper()
	start := time.Now()
	var lastErr error
	for time.Since(start) < timeout {
		ok, err := cond()
		if ok {
			return time.Since(start)
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
	return 0
}

func ctx() context.Context { return context.Background() }

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// signalingPods lists the SignalingCluster's signaling pods (terminating ones included).
func (e *env) signalingPods(ns, sc string) ([]corev1.Pod, error) {
	l, err := e.cs.CoreV1().Pods(ns).List(ctx(), metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/instance=" + sc + ",app.kubernetes.io/component=signaling",
	})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func (e *env) readySignalingPods(t *testing.T, ns, sc string) []corev1.Pod {
	t.Helper()
	pods, err := e.signalingPods(ns, sc)
	if err != nil {
		t.Fatal(err)
	}
	var ready []corev1.Pod
	for i := range pods {
		if podReady(&pods[i]) {
			ready = append(ready, pods[i])
		}
	}
	return ready
}

// condition returns the status of a SignalingCluster condition ("" when absent).
func (e *env) condition(ns, sc, typ string) string {
	out, err := e.run(e.kubectlBin, "-n", ns, "get", "sigc", sc, "-o",
		fmt.Sprintf(`jsonpath={.status.conditions[?(@.type=="%s")].status}`, typ))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// nodeScript is a running test/node/cluster-*.mjs script: JSON lines out, commands in.
type nodeScript struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  *os.File
	lines  chan string
	stderr *bytes.Buffer
}

func (e *env) startNode(t *testing.T, script string, vars map[string]string) *nodeScript {
	t.Helper()
	cmd := exec.Command("node", script)
	cmd.Dir = filepath.Join(e.root, "test", "node")
	cmd.Env = os.Environ()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = r
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &nodeScript{t: t, cmd: cmd, stdin: w, lines: make(chan string, 16), stderr: &bytes.Buffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		w.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return s
}

// next returns the script's next report line, failing when the script ends or stalls.
func (s *nodeScript) next(timeout time.Duration) string {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			err := s.cmd.Wait()
			s.t.Fatalf("%s ended (%v) without reporting:\n%s", s.cmd.Args[1], err, s.stderr)
		}
		return line
	case <-time.After(timeout):
		s.t.Fatalf("%s reported nothing within %s:\n%s", s.cmd.Args[1], timeout, s.stderr)
	}
	return ""
}

func (s *nodeScript) send(command string) {
	s.t.Helper()
	if _, err := fmt.Fprintln(s.stdin, command); err != nil {
		s.t.Fatal(err)
	}
}

// containerTask finds a pod's container in containerd: its id and the host pid of its process.
func (e *env) containerTask(t *testing.T, ns, pod, container string) (id string, pid int) {
	t.Helper()
	p, err := e.cs.CoreV1().Pods(ns).Get(ctx(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == container {
			id = strings.TrimPrefix(c.ContainerID, "containerd://")
		}
	}
	if id == "" {
		t.Fatalf("pod %s has no %s container id", pod, container)
	}
	out := e.ctr(t, "tasks", "ls")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return id, pid
		}
	}
	t.Fatalf("no containerd task %s:\n%s", id, out)
	return "", 0
}

// ctr runs containerd's ctr against the cluster's containerd, in the kubelet's namespace.
func (e *env) ctr(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"--address", filepath.Join(e.root, "bin", "cluster-run", "containerd", "containerd.sock"),
		"--namespace", "k8s.io"}, args...)
	out, err := exec.Command("ctr", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
