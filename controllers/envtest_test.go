/*
Copyright 2026 The Switchboard Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
	"github.com/switchboard-rtc/switchboard/internal/contract"
)

const testPEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtest\n-----END PUBLIC KEY-----\n"

// mediaServer is an httptest media service whose /health can be switched off.
type mediaServer struct {
	*httptest.Server
	healthy atomic.Bool
	probes  atomic.Int64
}

func newMediaServer(t testing.TB) *mediaServer {
	m := &mediaServer{}
	m.healthy.Store(true)
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		m.probes.Add(1)
		if !m.healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(m.Close)
	return m
}

// newWiredNamespace is a fresh namespace with its own redis-server (requiring password, if
// any) and the opted-in Secrets a SignalingCluster from newCluster refers to: "redis" with
// that password and "jwt" with the test public key.
func newWiredNamespace(t testing.TB, password string) (ns, redisAddr string) {
	t.Helper()
	ns = newNamespace(t)
	redisAddr = startRedis(t, password)
	createSecret(t, ns, "redis", map[string]string{"password": password})
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})
	return ns, redisAddr
}

// createSecret creates a Secret opted in to the operator (labelled signaling.switchboard.dev/use=true).
func createSecret(t testing.TB, ns, name string, data map[string]string) {
	t.Helper()
	createSecretLabelled(t, ns, name, data, map[string]string{v1alpha1.LabelSecretUse: v1alpha1.LabelSecretUseValue})
}

func createSecretLabelled(t testing.TB, ns, name string, data, labels map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, StringData: data}
	if err := testClient.Create(context.Background(), s); err != nil {
		t.Fatalf("secret: %v", err)
	}
}

// newCluster is a valid SignalingCluster using the given Redis and (optional) media service.
func newCluster(ns, name, redisAddr, mediaURL string) *v1alpha1.SignalingCluster {
	sc := &v1alpha1.SignalingCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.SignalingClusterSpec{
			Redis: v1alpha1.RedisSpec{
				Addresses:         []string{redisAddr},
				PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "redis", Key: "password"},
			},
			Auth: v1alpha1.AuthSpec{
				PublicKeySecretRef: &v1alpha1.SecretKeyRef{Name: "jwt", Key: "public.pem"},
				AllowedOrigins:     []string{"https://app.example.test"},
				Issuer:             "https://auth.example.test",
			},
		},
	}
	if mediaURL != "" {
		sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{
			URL:         mediaURL,
			HealthCheck: v1alpha1.HealthCheckSpec{Interval: &metav1.Duration{Duration: time.Second}, Timeout: &metav1.Duration{Duration: 500 * time.Millisecond}, FailureThreshold: 2, SuccessThreshold: 1},
		}
	}
	return sc
}

func getCluster(t testing.TB, key types.NamespacedName) *v1alpha1.SignalingCluster {
	t.Helper()
	sc := &v1alpha1.SignalingCluster{}
	if err := testClient.Get(context.Background(), key, sc); err != nil {
		t.Fatalf("get cluster: %v", err)
	}
	return sc
}

func conditionIs(sc *v1alpha1.SignalingCluster, typ string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(sc.Status.Conditions, typ)
	if c == nil {
		return fmt.Errorf("no %s condition (have %v)", typ, sc.Status.Conditions)
	}
	if c.Status != status || (reason != "" && c.Reason != reason) {
		return fmt.Errorf("%s is %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	if c.ObservedGeneration != sc.Generation {
		return fmt.Errorf("%s observedGeneration %d, generation %d", typ, c.ObservedGeneration, sc.Generation)
	}
	return nil
}

func waitCondition(t testing.TB, key types.NamespacedName, typ string, status metav1.ConditionStatus, reason string) *v1alpha1.SignalingCluster {
	t.Helper()
	var sc *v1alpha1.SignalingCluster
	eventually(t, 30*time.Second, typ+"="+string(status), func() error {
		sc = getCluster(t, key)
		return conditionIs(sc, typ, status, reason)
	})
	return sc
}

func assertControlledBy(t testing.TB, obj client.Object, sc *v1alpha1.SignalingCluster) {
	t.Helper()
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.UID != sc.UID || ref.Kind != "SignalingCluster" || ref.APIVersion != v1alpha1.GroupVersion.String() ||
		!ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("%T %s: controller reference %+v, want SignalingCluster %s (uid %s) blocking deletion", obj, obj.GetName(), ref, sc.Name, sc.UID)
	}
}

func TestCreateBuildsWiredObjectsWithOwnerReferences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	redisAddr := startRedis(t, "s3cret")
	media := newMediaServer(t)
	createSecret(t, ns, "redis", map[string]string{"password": "s3cret"})
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})
	startManager(t, ns, testOptions)

	sc := newCluster(ns, "sig", redisAddr, media.URL)
	sc.Spec.PodDisruptionBudget = &v1alpha1.PodDisruptionBudgetSpec{}
	sc.Spec.Drain.Timeout = &metav1.Duration{Duration: 45 * time.Second}
	sc.Spec.RoomService = &v1alpha1.ServiceEndpoint{URL: "http://127.0.0.1:1/rooms", Timeout: &metav1.Duration{Duration: 2 * time.Second}}
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)

	dep := &appsv1.Deployment{}
	eventually(t, 30*time.Second, "Deployment", func() error { return testClient.Get(ctx, key, dep) })
	cm := &corev1.ConfigMap{}
	svc := &corev1.Service{}
	pdb := &policyv1.PodDisruptionBudget{}
	eventually(t, 30*time.Second, "ConfigMap, Service, PDB", func() error {
		return errorsJoin(testClient.Get(ctx, key, cm), testClient.Get(ctx, key, svc), testClient.Get(ctx, key, pdb))
	})
	waitCondition(t, key, v1alpha1.ConditionRedisReady, metav1.ConditionTrue, v1alpha1.ReasonRedisPingSucceeded)
	sc = waitCondition(t, key, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionTrue, v1alpha1.ReasonMediaHealthy)

	for _, obj := range []client.Object{dep, cm, svc, pdb} {
		assertControlledBy(t, obj, sc)
	}

	// Defaults from the schema reached the object.
	if sc.Spec.Service.Port != 80 || sc.Spec.Service.Type != corev1.ServiceTypeClusterIP || ptr.Deref(sc.Spec.Replicas, 0) != 2 ||
		sc.Spec.Redis.Mode != v1alpha1.RedisModeStandalone || sc.Spec.MediaService.HealthCheck.Path != "/health" {
		t.Errorf("schema defaults not applied: %+v", sc.Spec)
	}

	wantCM := map[string]string{
		"SIGNALING_REDIS_MODE":           "standalone",
		"SIGNALING_REDIS_ADDRS":          redisAddr,
		"SIGNALING_REDIS_TLS":            "false",
		"SIGNALING_JWT_PUBLIC_KEY":       "/etc/switchboard/jwt/public.pem",
		"SIGNALING_JWT_ISSUER":           "https://auth.example.test",
		"SIGNALING_ALLOWED_ORIGINS":      "https://app.example.test",
		"SIGNALING_MEDIA_SERVICE_URL":    media.URL,
		"SIGNALING_ROOM_SERVICE_URL":     "http://127.0.0.1:1/rooms",
		"SIGNALING_ROOM_SERVICE_TIMEOUT": "2s",
		"SIGNALING_DRAIN_TIMEOUT":        "45s",
		"SIGNALING_LOG_LEVEL":            "info",
	}
	for k, v := range wantCM {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], v)
		}
	}
	for k := range cm.Data {
		if strings.Contains(k, "PASSWORD") {
			t.Errorf("ConfigMap holds a secret: %s", k)
		}
	}

	if got := ptr.Deref(dep.Spec.Replicas, 0); got != 2 {
		t.Errorf("replicas %d, want 2", got)
	}
	ps := dep.Spec.Template.Spec
	if got := ptr.Deref(ps.TerminationGracePeriodSeconds, 0); got != 60 {
		t.Errorf("terminationGracePeriodSeconds %d, want 45+15", got)
	}
	if ru := dep.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge.IntValue() != 1 {
		t.Errorf("strategy %+v, want maxUnavailable 0, maxSurge 1", dep.Spec.Strategy)
	}
	c := ps.Containers[0]
	if c.Image != testOptions.SignalingImage || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
		c.Ports[0].ContainerPort != 8080 || c.EnvFrom[0].ConfigMapRef.Name != "sig" {
		t.Errorf("container %+v", c)
	}
	if len(c.Ports) != 2 || c.Ports[1].Name != "metrics" || c.Ports[1].ContainerPort != 9090 || dep.Spec.Template.Annotations["prometheus.io/port"] != "9090" {
		t.Errorf("metrics: container ports %+v, pod annotations %v; want port metrics 9090 and prometheus.io/port 9090", c.Ports, dep.Spec.Template.Annotations)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e := env["SIGNALING_NODE_ID"]; e.ValueFrom == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("SIGNALING_NODE_ID %+v", e)
	}
	if e := env["SIGNALING_REDIS_PASSWORD"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != "redis" || e.ValueFrom.SecretKeyRef.Key != "password" {
		t.Errorf("SIGNALING_REDIS_PASSWORD %+v", e)
	}
	if len(ps.Volumes) != 1 || ps.Volumes[0].Secret.SecretName != "jwt" || c.VolumeMounts[0].MountPath != "/etc/switchboard/jwt" {
		t.Errorf("JWT key volume %+v mounts %+v", ps.Volumes, c.VolumeMounts)
	}
	if dep.Spec.Template.Annotations[AnnotationConfigHash] == "" {
		t.Error("no config hash on the pod template")
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort != intstr.FromString("http") || svc.Spec.Selector[labelInstance] != "sig" {
		t.Errorf("service %+v", svc.Spec)
	}
	if pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB maxUnavailable %v", pdb.Spec.MaxUnavailable)
	}
	if sc.Status.ObservedGeneration != sc.Generation {
		t.Errorf("observedGeneration %d, generation %d", sc.Status.ObservedGeneration, sc.Generation)
	}
	// No Deployment controller in envtest: the Deployment never becomes available.
	waitCondition(t, client.ObjectKeyFromObject(sc), v1alpha1.ConditionAvailable, metav1.ConditionFalse, v1alpha1.ReasonMinimumReplicasUnavailable)

	// The Deployment the API server defaulted must not be patched again: it keeps its
	// resourceVersion across further reconciles (triggered here by a status-only change and a
	// monitor tick).
	rv := dep.ResourceVersion
	writes := 0
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		d := &appsv1.Deployment{}
		if err := testClient.Get(ctx, key, d); err != nil {
			t.Fatal(err)
		}
		if d.ResourceVersion != rv {
			writes++
			rv = d.ResourceVersion
		}
		time.Sleep(200 * time.Millisecond)
	}
	if writes != 0 {
		t.Errorf("the operator rewrote an unchanged Deployment %d times", writes)
	}
}

// updateCluster applies mutate to the latest version, retrying on conflicts with status writes.
func updateCluster(t testing.TB, key types.NamespacedName, mutate func(*v1alpha1.SignalingCluster)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc := getCluster(t, key)
		mutate(sc)
		return testClient.Update(context.Background(), sc)
	})
	if err != nil {
		t.Fatalf("update %s: %v", key, err)
	}
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func TestSpecUpdatesFollowAndAutoscalingOwnsReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, redisAddr := newWiredNamespace(t, "pw")
	startManager(t, ns, testOptions)

	sc := newCluster(ns, "sig", redisAddr, "")
	sc.Spec.PodDisruptionBudget = &v1alpha1.PodDisruptionBudgetSpec{}
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)
	eventually(t, 30*time.Second, "PDB", func() error { return testClient.Get(ctx, key, &policyv1.PodDisruptionBudget{}) })

	updateCluster(t, key, func(sc *v1alpha1.SignalingCluster) {
		sc.Spec.Replicas = ptr.To[int32](5)
		sc.Spec.Service.Port = 8443
		sc.Spec.LogLevel = "debug"
		sc.Spec.Drain.Timeout = &metav1.Duration{Duration: 2 * time.Minute}
		sc.Spec.Rollout.MaxSurge = ptr.To(intstr.FromString("50%"))
		sc.Spec.Rollout.MinReadySeconds = ptr.To[int32](12)
		sc.Spec.PodDisruptionBudget = nil
	})
	eventually(t, 30*time.Second, "objects to follow the spec", func() error {
		dep, cm, svc := &appsv1.Deployment{}, &corev1.ConfigMap{}, &corev1.Service{}
		if err := errorsJoin(testClient.Get(ctx, key, dep), testClient.Get(ctx, key, cm), testClient.Get(ctx, key, svc)); err != nil {
			return err
		}
		switch {
		case ptr.Deref(dep.Spec.Replicas, 0) != 5:
			return fmt.Errorf("replicas %d", ptr.Deref(dep.Spec.Replicas, 0))
		case ptr.Deref(dep.Spec.Template.Spec.TerminationGracePeriodSeconds, 0) != 135:
			return fmt.Errorf("terminationGracePeriodSeconds %d", ptr.Deref(dep.Spec.Template.Spec.TerminationGracePeriodSeconds, 0))
		case dep.Spec.Strategy.RollingUpdate.MaxSurge.String() != "50%" || dep.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0:
			return fmt.Errorf("strategy %+v", dep.Spec.Strategy.RollingUpdate)
		case dep.Spec.MinReadySeconds != 12:
			return fmt.Errorf("minReadySeconds %d", dep.Spec.MinReadySeconds)
		case cm.Data["SIGNALING_LOG_LEVEL"] != "debug" || cm.Data["SIGNALING_DRAIN_TIMEOUT"] != "2m0s":
			return fmt.Errorf("configmap %v", cm.Data)
		case svc.Spec.Ports[0].Port != 8443:
			return fmt.Errorf("service port %d", svc.Spec.Ports[0].Port)
		}
		err := testClient.Get(ctx, key, &policyv1.PodDisruptionBudget{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("PDB still there: %v", err)
		}
		return nil
	})

	// Autoscaling on: an HPA appears and the operator leaves spec.replicas to it.
	updateCluster(t, key, func(sc *v1alpha1.SignalingCluster) {
		sc.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: ptr.To[int32](3), MaxReplicas: 9}
	})
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	eventually(t, 30*time.Second, "HPA", func() error { return testClient.Get(ctx, key, hpa) })
	if hpa.Spec.MaxReplicas != 9 || ptr.Deref(hpa.Spec.MinReplicas, 0) != 3 || hpa.Spec.ScaleTargetRef.Name != "sig" ||
		*hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 {
		t.Errorf("HPA spec %+v", hpa.Spec)
	}
	sc = getCluster(t, key)
	assertControlledBy(t, hpa, sc)

	// The "HPA" scales the Deployment; a later spec change must not reset it.
	dep := &appsv1.Deployment{}
	if err := testClient.Get(ctx, key, dep); err != nil {
		t.Fatal(err)
	}
	dep.Spec.Replicas = ptr.To[int32](7)
	if err := testClient.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	updateCluster(t, key, func(sc *v1alpha1.SignalingCluster) { sc.Spec.LogLevel = "warn" })
	eventually(t, 30*time.Second, "the change to be applied", func() error {
		cm := &corev1.ConfigMap{}
		if err := testClient.Get(ctx, key, cm); err != nil {
			return err
		}
		if cm.Data["SIGNALING_LOG_LEVEL"] != "warn" {
			return fmt.Errorf("log level %q", cm.Data["SIGNALING_LOG_LEVEL"])
		}
		return nil
	})
	eventually(t, 30*time.Second, "status to observe the generation", func() error {
		s := getCluster(t, key)
		if s.Status.ObservedGeneration != s.Generation {
			return fmt.Errorf("observed %d of %d", s.Status.ObservedGeneration, s.Generation)
		}
		return nil
	})
	if err := testClient.Get(ctx, key, dep); err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(dep.Spec.Replicas, 0); got != 7 {
		t.Errorf("the operator wrote spec.replicas=%d while autoscaling owns it (want 7)", got)
	}
}

func TestRotatedSecretChangesPodTemplateHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, redisAddr := newWiredNamespace(t, "")
	startManager(t, ns, testOptions)
	sc := newCluster(ns, "sig", redisAddr, "")
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)
	hash := func() (string, error) {
		d := &appsv1.Deployment{}
		if err := testClient.Get(ctx, key, d); err != nil {
			return "", err
		}
		return d.Spec.Template.Annotations[AnnotationConfigHash], nil
	}
	var before string
	eventually(t, 30*time.Second, "Deployment", func() (err error) { before, err = hash(); return err })

	secret := &corev1.Secret{}
	if err := testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "jwt"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["public.pem"] = []byte(strings.Replace(testPEM, "test", "rotated", 1))
	if err := testClient.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the pod template hash to change", func() error {
		h, err := hash()
		if err != nil {
			return err
		}
		if h == before {
			return fmt.Errorf("hash still %s", h)
		}
		return nil
	})
	// An unrelated Secret in the namespace does not touch the template.
	after, _ := hash()
	createSecret(t, ns, "unrelated", map[string]string{"x": "y"})
	time.Sleep(time.Second)
	if h, _ := hash(); h != after {
		t.Errorf("an unreferenced Secret changed the hash")
	}
}

func TestMediaHealthGateFlipsConditionEventsAndRedisVerdict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	redisAddr := startRedis(t, "pw")
	media := newMediaServer(t)
	createSecret(t, ns, "redis", map[string]string{"password": "pw"})
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})

	rc := redis.NewClient(&redis.Options{Addr: redisAddr, Password: "pw"})
	t.Cleanup(func() { _ = rc.Close() })
	sub := rc.Subscribe(ctx, contract.ControlChannel)
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := sub.Channel()
	// Two signaling nodes, one draining.
	rc.Set(ctx, "node:{sig-a}", `{"nodeId":"sig-a","state":"active","updatedAt":1}`, 10*time.Minute)   // outlives a slow run of the test
	rc.Set(ctx, "node:{sig-b}", `{"nodeId":"sig-b","state":"draining","updatedAt":1}`, 10*time.Minute) // outlives a slow run of the test

	startManager(t, ns, testOptions)
	sc := newCluster(ns, "sig", redisAddr, media.URL)
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)

	nextMessage := func(wantHealthy bool) contract.MediaHealthNotice {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case m := <-msgs:
				var hm contract.MediaHealthNotice
				if err := json.Unmarshal([]byte(m.Payload), &hm); err != nil {
					t.Fatalf("bad control message %q: %v", m.Payload, err)
				}
				if hm.Type == "media_health" && hm.Healthy == wantHealthy {
					return hm
				}
			case <-timeout:
				t.Fatalf("no media_health healthy=%v message on %s", wantHealthy, contract.ControlChannel)
			}
		}
	}
	verdict := func() (MediaVerdict, time.Duration) {
		t.Helper()
		var v MediaVerdict
		raw, err := rc.Get(ctx, contract.MediaHealthKey).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", contract.MediaHealthKey, err)
		}
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Fatalf("bad verdict %q: %v", raw, err)
		}
		return v, rc.TTL(ctx, contract.MediaHealthKey).Val()
	}

	waitCondition(t, key, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionTrue, v1alpha1.ReasonMediaHealthy)
	if m := nextMessage(true); m.Reason != "ok" || m.At == 0 {
		t.Errorf("healthy message %+v", m)
	}
	v, ttl := verdict()
	if !v.Healthy || v.Cluster != ns+"/sig" || v.Reason != "ok" || time.Since(time.UnixMilli(v.CheckedAt)) > time.Minute {
		t.Errorf("verdict %+v", v)
	}
	if ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("verdict TTL %s, want 3x interval with a 30s minimum", ttl)
	}
	eventually(t, 20*time.Second, "draining count", func() error {
		if s := getCluster(t, key); s.Status.DrainingReplicas != 1 {
			return fmt.Errorf("drainingReplicas %d", s.Status.DrainingReplicas)
		}
		return nil
	})

	media.healthy.Store(false)
	sc = waitCondition(t, key, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionFalse, v1alpha1.ReasonMediaUnhealthy)
	if m := nextMessage(false); !strings.Contains(m.Reason, "status 503") {
		t.Errorf("unhealthy message reason %q", m.Reason)
	}
	if v, _ := verdict(); v.Healthy || !strings.Contains(v.Reason, "503") {
		t.Errorf("verdict after failures %+v", v)
	}
	if d := sc.Status.MediaService; d == nil || d.Healthy || d.ConsecutiveFailures < 2 || !strings.Contains(d.LastError, "503") || d.LastProbeTime == nil {
		t.Errorf("media detail %+v", d)
	}
	if err := conditionIs(sc, v1alpha1.ConditionDegraded, metav1.ConditionTrue, ""); err != nil {
		t.Error(err)
	}
	waitEvent(t, ns, "sig", v1alpha1.EventMediaServiceUnhealthy, corev1.EventTypeWarning)

	media.healthy.Store(true)
	waitCondition(t, key, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionTrue, v1alpha1.ReasonMediaHealthy)
	nextMessage(true)
	if v, _ := verdict(); !v.Healthy {
		t.Errorf("verdict after recovery %+v", v)
	}
	waitEvent(t, ns, "sig", v1alpha1.EventMediaServiceHealthy, corev1.EventTypeNormal)
	waitCondition(t, key, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
}

func waitEvent(t testing.TB, ns, name, reason, typ string) {
	t.Helper()
	eventually(t, 20*time.Second, "Event "+reason, func() error {
		list := &eventsv1.EventList{}
		if err := testClient.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		var seen []string
		for _, e := range list.Items {
			if e.Regarding.Name == name && e.Regarding.Kind == "SignalingCluster" && e.Reason == reason && e.Type == typ {
				return nil
			}
			seen = append(seen, e.Reason)
		}
		return fmt.Errorf("events seen: %v", seen)
	})
}

func TestRedisUnreachableOrWrongPasswordIsReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	redisAddr := startRedis(t, "right")
	createSecret(t, ns, "redis", map[string]string{"password": "wrong"})
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})
	startManager(t, ns, testOptions)

	down := newCluster(ns, "down", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "")
	if err := testClient.Create(ctx, down); err != nil {
		t.Fatal(err)
	}
	badAuth := newCluster(ns, "badauth", redisAddr, "")
	if err := testClient.Create(ctx, badAuth); err != nil {
		t.Fatal(err)
	}
	noSecret := newCluster(ns, "nosecret", redisAddr, "")
	noSecret.Spec.Redis.PasswordSecretRef.Name = "missing"
	if err := testClient.Create(ctx, noSecret); err != nil {
		t.Fatal(err)
	}

	sc := waitCondition(t, client.ObjectKeyFromObject(down), v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonRedisUnreachable)
	if c := meta.FindStatusCondition(sc.Status.Conditions, v1alpha1.ConditionRedisReady); !strings.Contains(c.Message, "PING") {
		t.Errorf("message %q", c.Message)
	}
	waitCondition(t, client.ObjectKeyFromObject(down), v1alpha1.ConditionDegraded, metav1.ConditionTrue, "RedisUnreachable")
	waitEvent(t, ns, "down", v1alpha1.EventRedisNotReady, corev1.EventTypeWarning)
	waitCondition(t, client.ObjectKeyFromObject(badAuth), v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonRedisAuthFailed)
	waitCondition(t, client.ObjectKeyFromObject(noSecret), v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)

	// Fixing the password Secret makes Redis ready without touching the SignalingCluster.
	s := &corev1.Secret{}
	if err := testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "redis"}, s); err != nil {
		t.Fatal(err)
	}
	s.Data["password"] = []byte("right")
	if err := testClient.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, client.ObjectKeyFromObject(badAuth), v1alpha1.ConditionRedisReady, metav1.ConditionTrue, v1alpha1.ReasonRedisPingSucceeded)
}

func TestManagedRedisObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})
	// The Service name resolves only inside a cluster: here it leads nowhere.
	startManager(t, ns, testOptions, serviceDNS(map[string]string{"sig-redis." + ns + ".svc:6379": closedAddr(t)}))
	sc := newCluster(ns, "sig", "", "")
	sc.Spec.Redis = v1alpha1.RedisSpec{Managed: true}
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: ns, Name: "sig-redis"}
	dep, svc := &appsv1.Deployment{}, &corev1.Service{}
	eventually(t, 30*time.Second, "managed Redis", func() error {
		return errorsJoin(testClient.Get(ctx, key, dep), testClient.Get(ctx, key, svc))
	})
	sc = waitCondition(t, client.ObjectKeyFromObject(sc), v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonRedisNodesNotReady)
	assertControlledBy(t, dep, sc)
	assertControlledBy(t, svc, sc)
	if dep.Spec.Template.Spec.Containers[0].Image != testOptions.RedisImage || svc.Spec.Ports[0].Port != 6379 {
		t.Errorf("managed redis %+v %+v", dep.Spec.Template.Spec.Containers[0], svc.Spec.Ports)
	}
	cm := &corev1.ConfigMap{}
	if err := testClient.Get(ctx, client.ObjectKeyFromObject(sc), cm); err != nil {
		t.Fatal(err)
	}
	if want := "sig-redis." + ns + ".svc:6379"; cm.Data["SIGNALING_REDIS_ADDRS"] != want {
		t.Errorf("SIGNALING_REDIS_ADDRS %q, want %q", cm.Data["SIGNALING_REDIS_ADDRS"], want)
	}
}

func TestManagerRestartWritesNothingToUnchangedObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	redisAddr := startRedis(t, "pw")
	media := newMediaServer(t)
	createSecret(t, ns, "redis", map[string]string{"password": "pw"})
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})
	first := startManager(t, ns, testOptions)

	sc := newCluster(ns, "sig", redisAddr, media.URL)
	sc.Spec.PodDisruptionBudget = &v1alpha1.PodDisruptionBudgetSpec{}
	sc.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MaxReplicas: 4}
	sc.Spec.Service.Type = corev1.ServiceTypeNodePort
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)
	waitCondition(t, key, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionTrue, "")
	waitCondition(t, key, v1alpha1.ConditionRedisReady, metav1.ConditionTrue, "")
	eventually(t, 30*time.Second, "HPA", func() error { return testClient.Get(ctx, key, &autoscalingv2.HorizontalPodAutoscaler{}) })

	objects := []client.Object{&v1alpha1.SignalingCluster{}, &appsv1.Deployment{}, &corev1.Service{}, &corev1.ConfigMap{},
		&policyv1.PodDisruptionBudget{}, &autoscalingv2.HorizontalPodAutoscaler{}}
	versions := func() []string {
		var rvs []string
		for _, o := range objects {
			if err := testClient.Get(ctx, key, o); err != nil {
				t.Fatal(err)
			}
			rvs = append(rvs, fmt.Sprintf("%T=%s", o, o.GetResourceVersion()))
		}
		return rvs
	}
	// Let the first manager settle, then stop it.
	time.Sleep(2 * time.Second)
	first.stop()
	before := versions()

	second := startManager(t, ns, testOptions)
	probes := media.probes.Load()
	eventually(t, 20*time.Second, "the new manager to probe twice", func() error {
		if media.probes.Load() < probes+2 {
			return fmt.Errorf("probes %d", media.probes.Load()-probes)
		}
		return nil
	})
	time.Sleep(time.Second)
	after := versions()
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("restart wrote to an unchanged object: %s -> %s", before[i], after[i])
		}
	}
	if w := second.Writes(); w != 0 {
		t.Errorf("restarted manager made %d writes", w)
	}
}

// TestStatusFollowsTheRollout plays the Deployment controller (absent in envtest) by writing
// Deployment status, and checks that the SignalingCluster reports rollout progress.
func TestStatusFollowsTheRollout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, redisAddr := newWiredNamespace(t, "")
	startManager(t, ns, testOptions)
	sc := newCluster(ns, "sig", redisAddr, "")
	sc.Spec.Replicas = ptr.To[int32](3)
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)
	dep := &appsv1.Deployment{}
	eventually(t, 30*time.Second, "Deployment", func() error { return testClient.Get(ctx, key, dep) })

	setDeploymentStatus := func(updated, ready, available int32) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := testClient.Get(ctx, key, dep); err != nil {
				return err
			}
			avail := corev1.ConditionFalse
			if available > 0 {
				avail = corev1.ConditionTrue
			}
			dep.Status = appsv1.DeploymentStatus{
				ObservedGeneration: dep.Generation, Replicas: 3 + (3 - updated), UpdatedReplicas: updated,
				ReadyReplicas: ready, AvailableReplicas: available,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: avail,
					Reason: "MinimumReplicasAvailable", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			}
			if updated == 3 {
				dep.Status.Replicas = 3
			}
			return testClient.Status().Update(ctx, dep)
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	setDeploymentStatus(1, 3, 3)
	var s *v1alpha1.SignalingCluster
	eventually(t, 20*time.Second, "rollout progress in status", func() error {
		s = getCluster(t, key)
		if s.Status.UpdatedReplicas != 1 || s.Status.ReadyReplicas != 3 || s.Status.Replicas != 5 {
			return fmt.Errorf("status replicas %d ready %d updated %d", s.Status.Replicas, s.Status.ReadyReplicas, s.Status.UpdatedReplicas)
		}
		return nil
	})
	for _, err := range []error{
		conditionIs(s, v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonRollingUpdate),
		conditionIs(s, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonMinimumReplicasAvailable),
	} {
		if err != nil {
			t.Error(err)
		}
	}
	if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionProgressing); !strings.Contains(c.Message, "1 of 3 pods updated") {
		t.Errorf("Progressing message %q", c.Message)
	}

	setDeploymentStatus(3, 3, 3)
	waitCondition(t, key, v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonRolloutComplete)
}
