//go:build cluster

// Package cluster tests the user path on a real one-node Kubernetes cluster (hack/cluster/up.sh):
// the chart installs the operator from the images of `make images`, a SignalingCluster sample runs
// three signaling pods and a managed Redis in a namespace that enforces the restricted Pod
// Security Standard, the managed Redis is locked down (no password on its command line, NOAUTH
// for strangers, the password kept across reconciles), a stock socket.io-client reaches the pods
// through the Service, a rolling update under load drains every old pod with a real SIGTERM,
// deleted and crashed pods' users leave exactly once, the media health gate follows a real media
// stub, a key rotation rolls the pods, and deleting and uninstalling clean up as docs/helm.md says.
//
// `make test-cluster` starts the cluster, runs this test and removes the cluster again. The
// measured figures go to the log (NUMBER lines) and bin/cluster-logs/numbers.txt
// (docs/benchmarks.md, "One-node cluster").
package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
)

const (
	operatorNS      = "switchboard-system"
	release         = "switchboard"
	leaseName       = "switchboard-operator.signaling.switchboard.dev"
	demoNS          = "demo"
	sampleFile      = "config/samples/signaling_v1alpha1_signalingcluster_managed.yaml"
	sampleName      = "demo"
	sampleAudience  = "switchboard" // the sample's spec.auth.audience
	replicas        = 3
	rolloutClients  = 300
	victimsPerCheck = 5
	// userGoneBound is how soon after their connection dropped the users of a deleted or crashed
	// pod must be reported gone (to the others in their room).
	userGoneBound = 15 * time.Second
	// recoveryWindow is the sample's --recovery-window in this test.
	recoveryWindow = 5 * time.Second
)

func TestUserPath(t *testing.T) {
	e := newEnv(t)
	s := &userPath{env: e, keys: newKeys(t)}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"1_helm_install_operator_ready", s.helmInstall},
		{"2_sample_pods_ready", s.applySample},
		{"3_managed_redis_locked_down", s.managedRedisLockedDown},
		{"4_service_relay_across_pods", s.relayThroughService},
		{"5_rolling_update_under_load", s.rollingUpdateUnderLoad},
		{"6_delete_and_crash_users_leave_once", s.deleteAndCrash},
		{"7_media_health_gate", s.mediaGate},
		{"8_rotation_gc_uninstall", s.rotationGCUninstall},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.run) {
			t.Fatalf("step %s failed; later steps depend on it", step.name)
		}
	}
}

// userPath carries what the steps share.
type userPath struct {
	*env
	keys *auth.DevKeys
}

func newKeys(t *testing.T) *auth.DevKeys {
	t.Helper()
	k, err := auth.NewDevKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (s *userPath) token(t *testing.T, user string) string {
	t.Helper()
	tok, err := s.keys.Token(user, "Name of "+user, 2*time.Hour, map[string]any{"aud": sampleAudience})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func splitRef(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	return ref[:i], ref[i+1:]
}

// 1. helm install of charts/switchboard with the images of `make images` → the operator pod is
// Ready (its own probes) and holds the leader-election Lease.
func (s *userPath) helmInstall(t *testing.T) {
	mgrRepo, mgrTag := splitRef(s.images["manager"])
	sigRepo, sigTag := splitRef(s.images["signaling"])
	start := time.Now()
	s.helm(t, "install", release, "charts/switchboard", "--namespace", operatorNS, "--create-namespace",
		"--set", "image.repository="+mgrRepo, "--set", "image.tag="+mgrTag, "--set", "image.pullPolicy=IfNotPresent",
		"--set", "operator.signalingImage.repository="+sigRepo, "--set", "operator.signalingImage.tag="+sigTag,
		"--set", "operator.redisImage="+s.images["redis"],
		"--wait", "--timeout", "3m")
	s.record(t, "operator_ready_after_helm_install_s", "%.1f", time.Since(start).Seconds())

	out := s.kubectl(t, "-n", operatorNS, "get", "pods", "-l", "app.kubernetes.io/instance="+release,
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.containers[0].args}{"\n"}{end}`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], " True ") || !strings.Contains(lines[0], "--leader-elect=true") {
		t.Fatalf("operator pods: want one Ready pod with leader election on, got:\n%s", out)
	}
	waitFor(t, time.Minute, "the leader-election Lease to have a holder", func() (bool, error) {
		out, err := s.run(s.kubectlBin, "-n", operatorNS, "get", "lease", leaseName, "-o", "jsonpath={.spec.holderIdentity}")
		return err == nil && strings.TrimSpace(out) != "", err
	})
}

// 2. kubectl apply of the managed-Redis sample (3 replicas) into a namespace that enforces the
// restricted Pod Security Standard → pods Ready, conditions True, `kubectl get sigc` columns right.
func (s *userPath) applySample(t *testing.T) {
	s.kubectlStdin(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {%s: restricted}}\n",
		demoNS, podSecurityEnforce), "apply", "-f", "-")
	s.putJWTSecret(t, s.keys)
	start := time.Now()
	sample, err := os.ReadFile(filepath.Join(s.root, sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	// A user who drops and never comes back keeps their place for the recovery window (default
	// 2 min, docs/operations.md "Drain on SIGTERM"); a short one lets the deleted and crashed pods'
	// users be reported gone within userGoneBound, as with recovery off.
	s.kubectlStdin(t, string(sample)+"  recoveryWindow: "+recoveryWindow.String()+"\n", "-n", demoNS, "apply", "-f", "-")
	var firstReady time.Duration
	allReady := waitFor(t, 3*time.Minute, "3 Ready signaling pods", func() (bool, error) {
		n := len(s.readySignalingPods(t, demoNS, sampleName))
		if n > 0 && firstReady == 0 {
			firstReady = time.Since(start)
		}
		return n == replicas, nil
	})
	s.record(t, "sample_first_signaling_pod_ready_s", "%.1f", firstReady.Seconds())
	s.record(t, "sample_all_signaling_pods_ready_s", "%.1f", allReady.Seconds())
	for _, c := range []string{"Available", "RedisReady"} {
		waitFor(t, time.Minute, "condition "+c+" True", func() (bool, error) {
			return s.condition(demoNS, sampleName, c) == "True", nil
		})
	}
	s.record(t, "sample_conditions_true_s", "%.1f", time.Since(start).Seconds())

	var table string
	waitFor(t, 30*time.Second, "kubectl get sigc to show Ready and 3 replicas", func() (bool, error) {
		table = s.kubectl(t, "-n", demoNS, "get", "sigc")
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 2 {
			return false, fmt.Errorf("want a header and one row:\n%s", table)
		}
		header, row := strings.Fields(lines[0]), strings.Fields(lines[1])
		if strings.Join(header, " ") != "NAME READY REPLICAS UPDATED DRAINING REDIS MEDIA AGE" {
			return false, fmt.Errorf("columns: %v", header)
		}
		// No media service configured: the Media column is empty, so the row has one field less.
		want := []string{sampleName, "True", "3", "3", "0", "True"}
		if len(row) != len(header)-1 || strings.Join(row[:len(want)], " ") != strings.Join(want, " ") {
			return false, fmt.Errorf("row %v, want %v", row, want)
		}
		return true, nil
	})
	t.Logf("kubectl get sigc:\n%s", table)
}

func (s *userPath) putJWTSecret(t *testing.T, keys *auth.DevKeys) {
	t.Helper()
	pem := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(pem, keys.PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	manifest := s.kubectl(t, "-n", demoNS, "create", "secret", "generic", "signaling-jwt",
		"--from-file=public.pem="+pem, "--dry-run=client", "-o", "yaml")
	s.kubectlStdin(t, manifest, "-n", demoNS, "apply", "-f", "-")
	// The operator reads only Secrets that opt in (docs/operator.md, Least privilege).
	s.kubectl(t, "-n", demoNS, "label", "--overwrite", "secret", "signaling-jwt", "signaling.switchboard.dev/use=true")
}

func (s *userPath) serviceURL(t *testing.T) string {
	t.Helper()
	out := s.kubectl(t, "-n", demoNS, "get", "svc", sampleName, "-o", "jsonpath={.spec.clusterIP}:{.spec.ports[0].port}")
	return "http://" + strings.TrimSpace(out)
}

func podURL(ip string) string { return "http://" + ip + ":8080" }

// podMetricsURL is a signaling pod's metrics listener (--metrics-listen, the container port
// "metrics"): /metrics is not served on the client port.
func podMetricsURL(ip string) string { return "http://" + ip + ":9090" }

// 4. A stock socket.io-client connects through the Service (ClusterIP, kube-proxy) and two
// users on different pods relay an offer/answer and chat.
func (s *userPath) relayThroughService(t *testing.T) {
	var pods []string
	for _, p := range s.readySignalingPods(t, demoNS, sampleName) {
		pods = append(pods, podMetricsURL(p.Status.PodIP))
	}
	n := s.startNode(t, "cluster-relay.mjs", map[string]string{
		"SERVICE_URL": s.serviceURL(t), "POD_URLS": strings.Join(pods, ","),
		"TOKEN_ALICE": s.token(t, "alice"), "TOKEN_BOB": s.token(t, "bob"),
	})
	var res struct {
		AlicePod, BobPod string
		Attempts         int
		OK               bool
	}
	if err := json.Unmarshal([]byte(n.next(2*time.Minute)), &res); err != nil || !res.OK || res.AlicePod == res.BobPod {
		t.Fatalf("relay through the Service: %+v %v", res, err)
	}
	t.Logf("alice on %s, bob on %s (bob's connection attempts: %d)", res.AlicePod, res.BobPod, res.Attempts)

	// The sample turns the demo page on (spec.demo): served through the Service too.
	page, err := httpGet(s.serviceURL(t) + "/demo")
	if err != nil || !strings.Contains(page, "socket.io.min.js") {
		t.Errorf("GET /demo through the Service: %v\n%.300s", err, page)
	}
}
