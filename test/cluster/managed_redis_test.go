//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// podSecurityEnforce is the label that makes the API server's PodSecurity admission refuse
	// pods that do not pass a Pod Security Standard in the namespace.
	podSecurityEnforce = "pod-security.kubernetes.io/enforce"
	redisPort          = 6379
	// nonRootUID is the uid the managed Redis runs as (controllers/redis_managed.go).
	nonRootUID = "65532"
)

func redisAuthSecret() string { return sampleName + "-redis-auth" }

// 3. The managed Redis is locked down with its pods running (docs/operator.md, "The managed
// Redis"): the namespace enforces the restricted Pod Security Standard, so the API server itself
// judged the Redis pod's security context; the running process carries no password on its
// command line or in its environment and runs without privileges; Redis refuses an
// unauthenticated client while the signaling pods use it; the rendered NetworkPolicies select
// the real peers; the generated password survives a reconcile.
func (s *userPath) managedRedisLockedDown(t *testing.T) {
	pod := s.redisPod(t)
	secret, err := s.cs.CoreV1().Secrets(demoNS).Get(ctx(), redisAuthSecret(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	password := string(secret.Data["password"])
	if len(password) != 64 {
		t.Fatalf("generated password has %d characters, want 64", len(password))
	}
	t.Run("restricted_pod_security_enforced", func(t *testing.T) { s.restrictedPodSecurity(t, pod) })
	t.Run("no_password_on_command_line_or_environment", func(t *testing.T) { s.passwordNotExposed(t, pod, password) })
	t.Run("process_runs_unprivileged", func(t *testing.T) { s.redisProcessUnprivileged(t, pod) })
	t.Run("unauthenticated_client_refused_nodes_connected", func(t *testing.T) { s.redisRequiresPassword(t, pod, password) })
	t.Run("network_policies_select_the_real_peers", func(t *testing.T) { s.networkPoliciesSelectPeers(t, pod) })
	t.Run("password_survives_an_unrelated_spec_edit", func(t *testing.T) { s.passwordSurvivesReconcile(t, secret, pod) })
}

// redisPod is the managed Redis' one running pod.
func (s *userPath) redisPod(t *testing.T) corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	waitFor(t, time.Minute, "one Ready managed Redis pod", func() (bool, error) {
		l, err := s.cs.CoreV1().Pods(demoNS).List(ctx(), metav1.ListOptions{
			LabelSelector: "app.kubernetes.io/instance=" + sampleName + ",app.kubernetes.io/component=redis",
		})
		if err != nil {
			return false, err
		}
		pods = l.Items
		return len(pods) == 1 && podReady(&pods[0]), fmt.Errorf("%d redis pods", len(pods))
	})
	return pods[0]
}

// The namespace enforces `restricted`, and the admission that let the Redis pod in refuses the
// same pod without its security context: the check can fail, and Redis passes it.
func (s *userPath) restrictedPodSecurity(t *testing.T, pod corev1.Pod) {
	ns, err := s.cs.CoreV1().Namespaces().Get(ctx(), demoNS, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Labels[podSecurityEnforce]; got != "restricted" {
		t.Fatalf("namespace %s: %s=%q, want restricted", demoNS, podSecurityEnforce, got)
	}
	dryRun := func(spec corev1.PodSpec) error {
		// As a controller would submit it: the scheduler's and the Priority admission's fields unset.
		spec.NodeName, spec.Priority, spec.PreemptionPolicy = "", nil, nil
		copyPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "psa-check-", Namespace: demoNS}, Spec: spec}
		_, err := s.cs.CoreV1().Pods(demoNS).Create(ctx(), copyPod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	if err := dryRun(*pod.Spec.DeepCopy()); err != nil {
		t.Errorf("the Redis pod's own spec is refused in the restricted namespace: %v", err)
	}
	insecure := pod.Spec.DeepCopy()
	insecure.SecurityContext = nil
	for i := range insecure.Containers {
		insecure.Containers[i].SecurityContext = nil
	}
	err = dryRun(*insecure)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "restricted`) {
		t.Errorf("the Redis pod without its security context: want refused by PodSecurity restricted, got %v", err)
	}
}

// Redis reads the password from its mounted redis.conf: it is nowhere in the pod specs, the
// arguments and environment the runtime started Redis with, or the process' command line and
// environment as the kernel shows them.
func (s *userPath) passwordNotExposed(t *testing.T, pod corev1.Pod, password string) {
	for _, component := range []string{"redis", "signaling"} {
		l, err := s.cs.CoreV1().Pods(demoNS).List(ctx(), metav1.ListOptions{
			LabelSelector: "app.kubernetes.io/instance=" + sampleName + ",app.kubernetes.io/component=" + component,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Items {
			raw, _ := json.Marshal(p)
			if strings.Contains(string(raw), password) {
				t.Errorf("pod %s carries the Redis password in plain text", p.Name)
			}
		}
	}
	// What the runtime started: the OCI spec's process. redis-server rewrites its own argv and
	// environment area in memory (its process title), so /proc alone would not show what it was
	// given; both views are checked.
	id, pid := s.containerTask(t, demoNS, pod.Name, "redis")
	var info struct {
		Spec struct {
			Process struct{ Args, Env []string }
		}
	}
	raw := s.ctr(t, "containers", "info", id)
	if err := json.Unmarshal([]byte(raw), &info); err != nil || len(info.Spec.Process.Args) == 0 || len(info.Spec.Process.Env) == 0 {
		t.Fatalf("containerd's spec of the Redis container (%v):\n%.2000s", err, raw)
	}
	if !slices.Contains(info.Spec.Process.Args, "/etc/redis/redis.conf") {
		t.Errorf("the Redis container does not run the mounted redis.conf: %q", info.Spec.Process.Args)
	}
	for _, v := range append(append([]string{}, info.Spec.Process.Args...), info.Spec.Process.Env...) {
		if strings.Contains(v, password) {
			t.Errorf("the Redis container is started with the password in its arguments or environment")
		}
	}
	cmdline := procFile(t, pid, "cmdline")
	if !strings.Contains(cmdline, "redis-server") {
		t.Fatalf("pid %d is not redis-server: %q", pid, cmdline)
	}
	if strings.Contains(cmdline, password) {
		t.Errorf("the password is on redis-server's command line")
	}
	if strings.Contains(procFile(t, pid, "environ"), password) {
		t.Errorf("the password is in redis-server's environment")
	}
	t.Logf("redis-server pid %d, command line %q", pid, strings.ReplaceAll(cmdline, "\x00", " "))
}

func procFile(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The kernel's view of the running Redis process: the restricted security context took effect.
func (s *userPath) redisProcessUnprivileged(t *testing.T, pod corev1.Pod) {
	_, pid := s.containerTask(t, demoNS, pod.Name, "redis")
	status := map[string]string{}
	for _, line := range strings.Split(procFile(t, pid, "status"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			status[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	want := map[string]string{
		"Uid":        strings.Repeat(nonRootUID+" ", 3) + nonRootUID, // real, effective, saved, fs
		"Gid":        strings.Repeat(nonRootUID+" ", 3) + nonRootUID,
		"NoNewPrivs": "1",                // allowPrivilegeEscalation: false
		"Seccomp":    "2",                // a filter: seccompProfile RuntimeDefault
		"CapEff":     "0000000000000000", // capabilities drop ALL
		"CapBnd":     "0000000000000000",
	}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("redis-server /proc/%d/status %s: %q, want %q", pid, k, status[k], v)
		}
	}
	// readOnlyRootFilesystem: the container's / is mounted read-only.
	rootRO := false
	for _, line := range strings.Split(procFile(t, pid, "mountinfo"), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == "/" {
			rootRO = strings.HasPrefix(f[5], "ro,") || f[5] == "ro"
		}
	}
	if !rootRO {
		t.Errorf("redis-server's root filesystem is writable")
	}
}

// An unauthenticated client gets NOAUTH from the Redis pod while every signaling pod is Ready
// on it (RedisReady True); the Secret's password is the one Redis requires, with protected mode
// on.
func (s *userPath) redisRequiresPassword(t *testing.T, pod corev1.Pod, password string) {
	addr := net.JoinHostPort(pod.Status.PodIP, fmt.Sprint(redisPort))
	c, cancel := context.WithTimeout(ctx(), 30*time.Second)
	defer cancel()
	anon := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 5 * time.Second, MaxRetries: -1, Protocol: 2, DisableIdentity: true})
	defer anon.Close()
	if err := anon.Ping(c).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Errorf("PING without a password: %v, want NOAUTH", err)
	}
	if n := len(s.readySignalingPods(t, demoNS, sampleName)); n != replicas {
		t.Errorf("%d Ready signaling pods, want %d", n, replicas)
	}
	if got := s.condition(demoNS, sampleName, "RedisReady"); got != "True" {
		t.Errorf("RedisReady %q, want True", got)
	}
	authed := redis.NewClient(&redis.Options{Addr: addr, Password: password, DialTimeout: 5 * time.Second, MaxRetries: -1, Protocol: 2, DisableIdentity: true})
	defer authed.Close()
	if err := authed.Ping(c).Err(); err != nil {
		t.Errorf("PING with the Secret's password: %v", err)
	}
	if v, err := authed.ConfigGet(c, "protected-mode").Result(); err != nil || v["protected-mode"] != "yes" {
		t.Errorf("protected-mode %v (%v), want yes", v, err)
	}
}

// The operator's NetworkPolicies (the chart's default networkPolicies.enabled) select the real
// pods: the Redis policy admits exactly the signaling pods and the running operator pod, on the
// Redis port; the signaling policy covers exactly the signaling pods, on their client and
// metrics ports. This one-node cluster's bridge CNI does not enforce NetworkPolicies, so whether
// traffic is dropped is not exercised here (docs/operator.md, "Least privilege").
func (s *userPath) networkPoliciesSelectPeers(t *testing.T, redisPod corev1.Pod) {
	podNames := func(ns string, sel *metav1.LabelSelector) []string {
		t.Helper()
		selector, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.cs.CoreV1().Pods(ns).List(ctx(), metav1.ListOptions{LabelSelector: selector.String()})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range l.Items {
			names = append(names, p.Namespace+"/"+p.Name)
		}
		return names
	}
	var signaling []string
	for _, p := range s.readySignalingPods(t, demoNS, sampleName) {
		signaling = append(signaling, demoNS+"/"+p.Name)
	}
	operator := podNames(operatorNS, &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": release}})
	if len(operator) != 1 {
		t.Fatalf("operator pods %v, want one", operator)
	}

	np, err := s.cs.NetworkingV1().NetworkPolicies(demoNS).Get(ctx(), sampleName+"-redis", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the managed Redis' NetworkPolicy: %v", err)
	}
	if got := podNames(demoNS, &np.Spec.PodSelector); !sameSet(got, []string{demoNS + "/" + redisPod.Name}) {
		t.Errorf("Redis policy applies to %v, want the Redis pod", got)
	}
	var admitted []string
	for _, rule := range np.Spec.Ingress {
		for _, port := range rule.Ports {
			if port.Port == nil || port.Port.IntValue() != redisPort {
				t.Errorf("Redis policy admits port %v, want only %d", port.Port, redisPort)
			}
		}
		for _, peer := range rule.From {
			namespaces := []string{demoNS}
			if peer.NamespaceSelector != nil {
				namespaces = s.namespacesMatching(t, peer.NamespaceSelector)
			}
			for _, ns := range namespaces {
				admitted = append(admitted, podNames(ns, peer.PodSelector)...)
			}
		}
	}
	if want := append(append([]string{}, signaling...), operator...); !sameSet(admitted, want) {
		t.Errorf("Redis policy admits %v, want the signaling pods and the operator %v", admitted, want)
	}

	np, err = s.cs.NetworkingV1().NetworkPolicies(demoNS).Get(ctx(), sampleName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the signaling pods' NetworkPolicy: %v", err)
	}
	if got := podNames(demoNS, &np.Spec.PodSelector); !sameSet(got, signaling) {
		t.Errorf("signaling policy applies to %v, want %v", got, signaling)
	}
	var policyPorts, containerPorts []string
	for _, rule := range np.Spec.Ingress {
		if len(rule.From) != 0 {
			t.Errorf("signaling policy restricts sources %v: clients come from anywhere", rule.From)
		}
		for _, p := range rule.Ports {
			policyPorts = append(policyPorts, p.Port.String())
		}
	}
	pods := s.readySignalingPods(t, demoNS, sampleName)
	for _, p := range pods[0].Spec.Containers[0].Ports {
		containerPorts = append(containerPorts, fmt.Sprint(p.ContainerPort))
	}
	if !sameSet(policyPorts, containerPorts) {
		t.Errorf("signaling policy admits ports %v, the pods listen on %v", policyPorts, containerPorts)
	}
}

func (s *userPath) namespacesMatching(t *testing.T, sel *metav1.LabelSelector) []string {
	t.Helper()
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.cs.CoreV1().Namespaces().List(ctx(), metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ns := range l.Items {
		names = append(names, ns.Name)
	}
	return names
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

// A spec edit that touches only the Service is reconciled (the new generation observed, the
// Service annotated) and leaves the generated password, its Secret and the Redis pod as they
// were.
func (s *userPath) passwordSurvivesReconcile(t *testing.T, before *corev1.Secret, redisPod corev1.Pod) {
	start := time.Now()
	s.kubectl(t, "-n", demoNS, "patch", "sigc", sampleName, "--type", "merge", "-p",
		`{"spec":{"service":{"annotations":{"test.switchboard.dev/unrelated-edit":"1"}}}}`)
	gen := strings.TrimSpace(s.kubectl(t, "-n", demoNS, "get", "sigc", sampleName, "-o", "jsonpath={.metadata.generation}"))
	waitFor(t, time.Minute, "the edit to be reconciled", func() (bool, error) {
		observed, err := s.run(s.kubectlBin, "-n", demoNS, "get", "sigc", sampleName, "-o", "jsonpath={.status.observedGeneration}")
		if err != nil || strings.TrimSpace(observed) != gen {
			return false, fmt.Errorf("observedGeneration %q, generation %s (%v)", observed, gen, err)
		}
		svc, err := s.cs.CoreV1().Services(demoNS).Get(ctx(), sampleName, metav1.GetOptions{})
		return err == nil && svc.Annotations["test.switchboard.dev/unrelated-edit"] == "1", err
	})
	s.record(t, "unrelated_spec_edit_reconciled_s", "%.1f", time.Since(start).Seconds())

	after, err := s.cs.CoreV1().Secrets(demoNS).Get(ctx(), redisAuthSecret(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID || string(after.Data["password"]) != string(before.Data["password"]) ||
		string(after.Data["redis.conf"]) != string(before.Data["redis.conf"]) {
		t.Errorf("the managed Redis' Secret changed on an unrelated edit (uid %s → %s, password kept: %v)",
			before.UID, after.UID, string(after.Data["password"]) == string(before.Data["password"]))
	}
	now := s.redisPod(t)
	if now.UID != redisPod.UID || restarts(now) != 0 {
		t.Errorf("the Redis pod was replaced or restarted (%s → %s, restarts %d)", redisPod.UID, now.UID, restarts(now))
	}
	if got := s.condition(demoNS, sampleName, "RedisReady"); got != "True" {
		t.Errorf("RedisReady %q after the edit", got)
	}
}

func restarts(p corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}
