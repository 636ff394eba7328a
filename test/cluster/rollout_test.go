//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// readyWatch follows the SignalingCluster's pods through a watch and keeps the lowest number of
// Ready, non-terminating pods seen, and how each terminated container ended.
type readyWatch struct {
	mu       sync.Mutex
	ready    map[string]bool
	min      int
	exits    map[string]int32 // pod → exit code of its signaling container, once terminated
	stop     func()
	stopped  atomic.Bool
	done     chan struct{}
	watchErr error
}

func (s *userPath) watchReady(t *testing.T) *readyWatch {
	t.Helper()
	w, err := s.cs.CoreV1().Pods(demoNS).Watch(ctx(), metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/instance=" + sampleName + ",app.kubernetes.io/component=signaling",
	})
	if err != nil {
		t.Fatal(err)
	}
	rw := &readyWatch{ready: map[string]bool{}, min: -1, exits: map[string]int32{}, stop: w.Stop, done: make(chan struct{})}
	go func() {
		defer close(rw.done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				if rw.stopped.Load() {
					continue // the stream closing after Stop
				}
				rw.watchErr = fmt.Errorf("watch event %s: %v", ev.Type, ev.Object)
				continue
			}
			rw.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(rw.ready, p.Name)
			} else {
				rw.ready[p.Name] = podReady(p)
			}
			for _, c := range p.Status.ContainerStatuses {
				if c.Name == "signaling" && c.State.Terminated != nil {
					rw.exits[p.Name] = c.State.Terminated.ExitCode
				}
			}
			// The initial ADDED events build the picture; count only once it is complete.
			n := 0
			for _, r := range rw.ready {
				if r {
					n++
				}
			}
			if len(rw.ready) >= replicas && (rw.min < 0 || n < rw.min) {
				rw.min = n
			}
			rw.mu.Unlock()
		}
	}()
	return rw
}

func (rw *readyWatch) finish() (minReady int, exits map[string]int32, err error) {
	rw.stopped.Store(true)
	rw.stop()
	<-rw.done
	return rw.min, rw.exits, rw.watchErr
}

// rolloutComplete: the Deployment runs the latest template on every replica and no old pod is
// left (terminating ones included).
func (s *userPath) rolloutComplete(generationAfter int64) func() (bool, error) {
	return func() (bool, error) {
		d, err := s.cs.AppsV1().Deployments(demoNS).Get(ctx(), sampleName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if d.Generation <= generationAfter || d.Status.ObservedGeneration < d.Generation ||
			d.Status.UpdatedReplicas != replicas || d.Status.AvailableReplicas != replicas || d.Status.Replicas != replicas {
			return false, fmt.Errorf("deployment status %+v", d.Status)
		}
		pods, err := s.signalingPods(demoNS, sampleName)
		return err == nil && len(pods) == replicas, err
	}
}

func (s *userPath) deploymentGeneration(t *testing.T) int64 {
	t.Helper()
	d, err := s.cs.AppsV1().Deployments(demoNS).Get(ctx(), sampleName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Generation
}

// rolloutBound is how long a rolling update of the sample may take: per pod a start, the
// readiness probe and minReadySeconds, then the last old pod's drain inside its grace period.
func (s *userPath) rolloutBound(t *testing.T) time.Duration {
	t.Helper()
	out := s.kubectl(t, "-n", demoNS, "get", "deploy", sampleName, "-o",
		"jsonpath={.spec.minReadySeconds} {.spec.template.spec.terminationGracePeriodSeconds}")
	var minReady, grace int
	if _, err := fmt.Sscan(out, &minReady, &grace); err != nil {
		t.Fatalf("deployment timing %q: %v", out, err)
	}
	perPod := time.Duration(minReady)*time.Second + 30*time.Second // start + readiness, generously
	return replicas*perPod + time.Duration(grace)*time.Second
}

// 5. Rolling update under load: 300 clients through the Service chat and relay while a spec
// change rolls every pod; old pods drain on SIGTERM; no acked chat lost, no user_left churn,
// never fewer Ready pods than replicas.
func (s *userPath) rollingUpdateUnderLoad(t *testing.T) {
	type tok struct {
		User  string `json:"user"`
		Token string `json:"token"`
	}
	toks := make([]tok, rolloutClients)
	for i := range toks {
		u := fmt.Sprintf("load-%03d", i)
		toks[i] = tok{u, s.token(t, u)}
	}
	raw, _ := json.Marshal(toks)
	tokensFile := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(tokensFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	n := s.startNode(t, "cluster-rollout.mjs", map[string]string{
		"SERVICE_URL": s.serviceURL(t), "TOKENS_FILE": tokensFile, "ROOM_SIZE": "5",
		"CHAT_INTERVAL_MS": "2000", "RELAY_INTERVAL_MS": "3000",
	})
	connectStart := time.Now()
	if line := n.next(3 * time.Minute); !strings.Contains(line, `"ready"`) {
		t.Fatalf("load clients: %s", line)
	}
	s.record(t, "rollout_clients_connected_and_joined_s", "%.1f", time.Since(connectStart).Seconds())
	var perPod []string
	for _, p := range s.readySignalingPods(t, demoNS, sampleName) {
		perPod = append(perPod, fmt.Sprintf("%s=%s", p.Name, s.metric(t, p.Status.PodIP, "switchboard_connections")))
	}
	s.record(t, "rollout_connections_per_pod_before", "%s", strings.Join(perPod, " "))

	rw := s.watchReady(t)
	gen := s.deploymentGeneration(t)
	n.send("start")
	time.Sleep(10 * time.Second) // traffic before the rollout
	bound := s.rolloutBound(t)
	start := time.Now()
	s.kubectl(t, "-n", demoNS, "patch", "sigc", sampleName, "--type", "merge", "-p",
		fmt.Sprintf(`{"spec":{"podAnnotations":{"test.switchboard.dev/rollout":"%d"}}}`, start.Unix()))
	took := waitFor(t, bound, fmt.Sprintf("the rollout to complete (bound %s)", bound), s.rolloutComplete(gen))
	minReady, exits, err := rw.finish()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // the last moved clients rejoin
	n.send("stop")
	var res struct {
		Clients, StillJoined, Acked, Lost, ChatFailed, RelayOK, RelayFailed int
		DrainingNotices, Disconnects, Reconnects, JoinFailures, Churn       int
		LostSamples, ChurnSamples                                           []map[string]any
		Errors                                                              map[string]int
	}
	line := n.next(2 * time.Minute)
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("load result %q: %v", line, err)
	}
	s.record(t, "rollout_duration_s", "%.1f", took.Seconds())
	s.record(t, "rollout_bound_s", "%.0f", bound.Seconds())
	s.record(t, "rollout_min_ready_pods", "%d", minReady)
	s.record(t, "rollout_old_pod_exit_codes", "%v", exits)
	s.record(t, "rollout_chats_acked", "%d", res.Acked)
	s.record(t, "rollout_chats_lost", "%d", res.Lost)
	s.record(t, "rollout_chats_unacked", "%d", res.ChatFailed)
	s.record(t, "rollout_relays_ok_failed", "%d/%d", res.RelayOK, res.RelayFailed)
	s.record(t, "rollout_server_draining_notices", "%d", res.DrainingNotices)
	s.record(t, "rollout_reconnects", "%d", res.Reconnects)
	s.record(t, "rollout_user_left_joined_churn", "%d", res.Churn)
	s.record(t, "rollout_error_events", "%v", res.Errors)

	if res.Lost != 0 {
		t.Errorf("%d acknowledged chat messages lost, e.g. %v", res.Lost, res.LostSamples)
	}
	if res.Churn != 0 {
		t.Errorf("%d user_left/user_joined churn events, e.g. %v", res.Churn, res.ChurnSamples)
	}
	if res.Acked == 0 || res.StillJoined != rolloutClients || res.JoinFailures != 0 {
		t.Errorf("clients: %d acked chats, %d of %d joined at the end, %d failed joins", res.Acked, res.StillJoined, rolloutClients, res.JoinFailures)
	}
	// Every client sat on an old pod, so every client was told to move at least once.
	if res.DrainingNotices < rolloutClients {
		t.Errorf("%d server_draining notices for %d clients: not every old pod drained", res.DrainingNotices, rolloutClients)
	}
	if minReady < replicas {
		t.Errorf("the rollout went down to %d Ready pods (replicas %d, maxUnavailable 0)", minReady, replicas)
	}
	for pod, code := range exits {
		if code != 0 {
			t.Errorf("old pod %s exited %d after SIGTERM, want 0 (a finished drain)", pod, code)
		}
	}
}

// metric reads one unlabelled metric from a signaling pod.
func (s *userPath) metric(t *testing.T, podIP, name string) string {
	t.Helper()
	out, err := httpGet(podMetricsURL(podIP) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return "absent"
}
