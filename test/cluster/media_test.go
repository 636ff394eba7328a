//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// mediastubManifest is a real media-service stand-in: the mediastub image answers GET /health.
// Its security context passes the restricted Pod Security Standard the demo namespace enforces.
func mediastubManifest(image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: mediastub, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: mediastub}}
  template:
    metadata: {labels: {app: mediastub}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: mediastub
        image: %[2]s
        imagePullPolicy: IfNotPresent
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /health, port: http}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: mediastub, namespace: %[1]s}
spec:
  selector: {app: mediastub}
  ports: [{name: http, port: 8080, targetPort: http}]
`, demoNS, image)
}

// 7. Media health gate with a real media stub: scaled to 0 → MediaServiceHealthy False and the
// nodes fall back (breaker open, small sfu rooms switch to p2p, docs/sfu.md); back to 1 → True
// and the rooms return to sfu.
func (s *userPath) mediaGate(t *testing.T) {
	s.kubectlStdin(t, mediastubManifest(s.images["mediastub"]), "apply", "-f", "-")
	s.kubectl(t, "-n", demoNS, "rollout", "status", "deploy/mediastub", "--timeout=2m")

	gen := s.deploymentGeneration(t)
	start := time.Now()
	s.kubectl(t, "-n", demoNS, "patch", "sigc", sampleName, "--type", "merge", "-p", fmt.Sprintf(`{"spec":{
		"defaultRoomMode": "sfu",
		"mediaService": {"url": "http://mediastub.%s.svc:8080",
			"healthCheck": {"interval": "2s", "timeout": "1s", "failureThreshold": 2, "successThreshold": 1}}}}`, demoNS))
	waitFor(t, s.rolloutBound(t), "the media-service rollout", s.rolloutComplete(gen))
	waitFor(t, time.Minute, "MediaServiceHealthy True", func() (bool, error) {
		return s.condition(demoNS, sampleName, "MediaServiceHealthy") == "True", nil
	})
	s.record(t, "media_configured_rollout_and_healthy_s", "%.1f", time.Since(start).Seconds())

	n := s.startNode(t, "cluster-media.mjs", map[string]string{
		"SERVICE_URL": s.serviceURL(t), "TOKEN_A": s.token(t, "media-a"), "TOKEN_B": s.token(t, "media-b"),
	})
	if line := n.next(time.Minute); !strings.Contains(line, `"mode":["sfu","sfu"]`) {
		t.Fatalf("media room before the outage: %s", line)
	}

	n.send("down")
	s.kubectl(t, "-n", demoNS, "scale", "deploy/mediastub", "--replicas=0")
	down := waitFor(t, time.Minute, "MediaServiceHealthy False", func() (bool, error) {
		return s.condition(demoNS, sampleName, "MediaServiceHealthy") == "False", nil
	})
	s.record(t, "media_scaled_to_0_condition_false_s", "%.1f", down.Seconds())
	s.expectFallback(t, n, "p2p", "media_fallback_room_mode_p2p_ms")
	for _, p := range s.readySignalingPods(t, demoNS, sampleName) {
		if v := s.metric(t, p.Status.PodIP, "switchboard_media_breaker_open"); v != "1" {
			t.Errorf("pod %s: switchboard_media_breaker_open = %s during the outage, want 1", p.Name, v)
		}
	}

	n.send("up")
	s.kubectl(t, "-n", demoNS, "scale", "deploy/mediastub", "--replicas=1")
	up := waitFor(t, 2*time.Minute, "MediaServiceHealthy True again", func() (bool, error) {
		return s.condition(demoNS, sampleName, "MediaServiceHealthy") == "True", nil
	})
	s.record(t, "media_scaled_to_1_condition_true_s", "%.1f", up.Seconds())
	s.expectFallback(t, n, "sfu", "media_recovered_room_mode_sfu_ms")
	for _, p := range s.readySignalingPods(t, demoNS, sampleName) {
		if v := s.metric(t, p.Status.PodIP, "switchboard_media_breaker_open"); v != "0" {
			t.Errorf("pod %s: switchboard_media_breaker_open = %s after recovery, want 0", p.Name, v)
		}
	}
}

func (s *userPath) expectFallback(t *testing.T, n *nodeScript, mode, number string) {
	t.Helper()
	var res struct {
		Phase string
		Ms    int64
	}
	line := n.next(2 * time.Minute)
	if err := json.Unmarshal([]byte(line), &res); err != nil || res.Phase != mode || res.Ms < 0 {
		t.Fatalf("room_mode_changed %s not seen by both members: %s %v", mode, line, err)
	}
	s.record(t, number, "%d", res.Ms)
}

// 8. A JWT key rotation rolls the pods (tokens of the new key work, the old key's fail);
// `kubectl delete sigc` garbage-collects every child; `helm uninstall` keeps the CRD
// (docs/helm.md, "CRD lifecycle").
func (s *userPath) rotationGCUninstall(t *testing.T) {
	oldKeys := s.keys
	s.keys = newKeys(t)
	gen := s.deploymentGeneration(t)
	s.putJWTSecret(t, s.keys)
	took := waitFor(t, s.rolloutBound(t), "the key-rotation rollout", s.rolloutComplete(gen))
	s.record(t, "jwt_rotation_rollout_s", "%.1f", took.Seconds())

	service := s.serviceURL(t)
	newTok := s.token(t, "rotated")
	oldTok, err := oldKeys.Token("stale", "Stale", time.Hour, map[string]any{"aud": sampleAudience})
	if err != nil {
		t.Fatal(err)
	}
	n := s.startNode(t, "cluster-auth.mjs", map[string]string{"SERVICE_URL": service, "TOKENS": newTok + "," + oldTok})
	if line := n.next(time.Minute); line != `{"results":["connected","rejected"]}` {
		t.Fatalf("after the rotation want the new key's token connected and the old one rejected, got %s", line)
	}

	s.kubectl(t, "-n", demoNS, "delete", "sigc", sampleName, "--wait=false")
	gc := waitFor(t, 2*time.Minute, "the SignalingCluster's children to be garbage-collected", func() (bool, error) {
		out, err := s.run(s.kubectlBin, "-n", demoNS, "get", "deploy,rs,pods,svc,cm,pdb,hpa", "-o", "name",
			"-l", "app.kubernetes.io/instance="+sampleName)
		return err == nil && strings.TrimSpace(out) == "", fmt.Errorf("left: %s %v", out, err)
	})
	s.record(t, "sigc_delete_gc_s", "%.1f", gc.Seconds())

	s.helm(t, "uninstall", release, "--namespace", operatorNS, "--wait", "--timeout", "2m")
	waitFor(t, time.Minute, "the operator to be gone", func() (bool, error) {
		out, err := s.run(s.kubectlBin, "-n", operatorNS, "get", "deploy,pods", "-o", "name")
		return err == nil && strings.TrimSpace(out) == "", fmt.Errorf("left: %s %v", out, err)
	})
	s.kubectl(t, "get", "crd", "signalingclusters.signaling.switchboard.dev")
}
