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
	"maps"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

func minimalCluster() *v1alpha1.SignalingCluster {
	return &v1alpha1.SignalingCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "sig", Namespace: "rtc", Generation: 1},
		Spec: v1alpha1.SignalingClusterSpec{
			Redis: v1alpha1.RedisSpec{Addresses: []string{"redis:6379"}},
			Auth:  v1alpha1.AuthSpec{PublicKeySecretRef: &v1alpha1.SecretKeyRef{Name: "jwt", Key: "pub.pem"}},
		},
	}
}

func fullCluster() *v1alpha1.SignalingCluster {
	sc := minimalCluster()
	d := func(s string) *metav1.Duration { v, _ := time.ParseDuration(s); return &metav1.Duration{Duration: v} }
	sc.Spec = v1alpha1.SignalingClusterSpec{
		Replicas: ptr.To[int32](4), Image: "img:1", ImagePullPolicy: corev1.PullAlways, LogLevel: "debug", Demo: true,
		NodeSelector:   map[string]string{"zone": "a"},
		PodAnnotations: map[string]string{"a": "b"},
		PodLabels:      map[string]string{"team": "rt", labelInstance: "hijack"},
		Redis: v1alpha1.RedisSpec{Mode: v1alpha1.RedisModeSentinel, Addresses: []string{"s1:26379", "s2:26379"}, MasterName: "m",
			Username: "u", PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "redis", Key: "pw"}, TLS: true,
			BusKeySecretRef: &v1alpha1.SecretKeyRef{Name: "bus", Key: "bus.key"}},
		Auth: v1alpha1.AuthSpec{PublicKeySecretRef: &v1alpha1.SecretKeyRef{Name: "jwt", Key: "pub.pem"}, JWKSURL: "https://a/jwks", JWKSRefresh: d("5m"),
			CookieName: "tok", Issuer: "iss", Audience: "aud", AllowedOrigins: []string{"https://a", "https://b"}, RequireRoomGrant: true,
			TokenRefreshLead: d("2m"), TokenExpiryGrace: d("5s"), Revocation: true},
		RoomService:     &v1alpha1.ServiceEndpoint{URL: "http://rooms", Timeout: d("2s")},
		ChatService:     &v1alpha1.ServiceEndpoint{URL: "http://chat", Timeout: d("6s")},
		MediaService:    &v1alpha1.MediaServiceSpec{URL: "http://sfu/", CreateTimeout: d("4s"), CallTimeout: d("2500ms")},
		DefaultRoomMode: v1alpha1.RoomModeSFU, MaxRoomSize: ptr.To[int32](50),
		ReconnectWindow: d("30s"), PresenceTTL: d("20s"), RecoveryWindow: d("90s"),
		Drain:                     v1alpha1.DrainSpec{Timeout: d("1m"), ReconnectJitter: d("7s")},
		Rollout:                   v1alpha1.RolloutSpec{MaxSurge: ptr.To(intstr.FromString("25%")), MinReadySeconds: ptr.To[int32](9)},
		Service:                   v1alpha1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Port: 443, Annotations: map[string]string{"lb": "nlb"}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}},
		ImagePullSecrets:          []corev1.LocalObjectReference{{Name: "registry"}},
		PriorityClassName:         "realtime",
		Env:                       []corev1.EnvVar{{Name: "GODEBUG", Value: "madvdontneed=1"}},
		Heartbeat:                 v1alpha1.HeartbeatSpec{PingInterval: d("15s"), PingTimeout: d("10s")},
		Limits: v1alpha1.LimitsSpec{MaxEventBytes: ptr.To[int32](32768), MaxPayloadBytes: ptr.To[int32](500000),
			MaxChatLength: ptr.To[int32](2000), EventRate: ptr.To[v1alpha1.Decimal]("50.5"), EventBurst: ptr.To[int32](100),
			SendQueue: ptr.To[int32](512), SendQueueBytes: ptr.To[int32](1 << 20), JoinHistoryBytes: ptr.To[int32](32768),
			JoinRate: ptr.To[v1alpha1.Decimal]("1.5"), JoinBurst: ptr.To[int32](4),
			RelayRate: ptr.To[v1alpha1.Decimal]("30"), RelayBurst: ptr.To[int32](60),
			RelayTargetRate: ptr.To[v1alpha1.Decimal]("10"), RelayTargetBurst: ptr.To[int32](25),
			ConnectTimeout: d("5s"), MaxConnections: ptr.To[int32](20000), MaxConnectionsPerUser: ptr.To[int32](8),
			MaxConnectionsPerIP: ptr.To[int32](100), TrustedProxies: []string{"10.0.0.0/8", "192.168.1.1"}},
		Chat: v1alpha1.ChatSpec{History: ptr.To[int32](20), HistoryRooms: ptr.To[int32](500), HistoryTTL: d("12h"), Rate: ptr.To[v1alpha1.Decimal]("0.5"),
			Burst: ptr.To[int32](5), BufferRoom: ptr.To[int32](2000), BufferTotal: ptr.To[int32](20000),
			BatchSize: ptr.To[int32](100), FlushInterval: d("250ms"), ClaimIdle: d("1m")},
		MemoryLimitRatio: ptr.To[v1alpha1.Decimal]("0.8"),
	}
	sc.Spec.MediaService.Breaker = v1alpha1.MediaBreakerSpec{Threshold: ptr.To[int32](7), ProbeInterval: d("3s"),
		P2PFallbackMaxParticipants: ptr.To[int32](0)}
	sc.Spec.Drain.MaxReconnectShare = ptr.To[v1alpha1.Decimal]("0.25")
	return sc
}

// TestDesiredConfigDataIsTheSignalingContract is a golden table of the SIGNALING_* settings.
func TestDesiredConfigDataIsTheSignalingContract(t *testing.T) {
	cases := []struct {
		name string
		sc   *v1alpha1.SignalingCluster
		want map[string]string
	}{
		{"minimal", minimalCluster(), map[string]string{
			"SIGNALING_LISTEN": ":8080", "SIGNALING_METRICS_LISTEN": ":9090", "SIGNALING_REDIS_MODE": "standalone", "SIGNALING_REDIS_ADDRS": "redis:6379",
			"SIGNALING_REDIS_TLS": "false", "SIGNALING_DRAIN_TIMEOUT": "30s", "SIGNALING_JWT_PUBLIC_KEY": "/etc/switchboard/jwt/pub.pem",
		}},
		{"full", fullCluster(), map[string]string{
			"SIGNALING_LISTEN": ":8080", "SIGNALING_METRICS_LISTEN": ":9090", "SIGNALING_REDIS_MODE": "sentinel", "SIGNALING_REDIS_ADDRS": "s1:26379,s2:26379",
			"SIGNALING_REDIS_MASTER_NAME": "m", "SIGNALING_REDIS_USERNAME": "u", "SIGNALING_REDIS_TLS": "true",
			"SIGNALING_JWT_PUBLIC_KEY": "/etc/switchboard/jwt/pub.pem", "SIGNALING_JWKS_URL": "https://a/jwks", "SIGNALING_JWKS_REFRESH": "5m0s",
			"SIGNALING_BUS_KEY_FILE": "/etc/switchboard/bus/bus.key",
			"SIGNALING_JWT_COOKIE":   "tok", "SIGNALING_JWT_ISSUER": "iss", "SIGNALING_JWT_AUDIENCE": "aud",
			"SIGNALING_ALLOWED_ORIGINS":  "https://a,https://b",
			"SIGNALING_ROOM_SERVICE_URL": "http://rooms", "SIGNALING_ROOM_SERVICE_TIMEOUT": "2s",
			"SIGNALING_CHAT_SERVICE_URL": "http://chat", "SIGNALING_CHAT_SERVICE_TIMEOUT": "6s",
			"SIGNALING_MEDIA_SERVICE_URL": "http://sfu/", "SIGNALING_MEDIA_CREATE_TIMEOUT": "4s", "SIGNALING_MEDIA_CALL_TIMEOUT": "2.5s",
			"SIGNALING_DEFAULT_ROOM_MODE": "sfu", "SIGNALING_MAX_ROOM_SIZE": "50", "SIGNALING_RECONNECT_WINDOW": "30s", "SIGNALING_RECOVERY_WINDOW": "1m30s",
			"SIGNALING_PRESENCE_TTL": "20s", "SIGNALING_DRAIN_TIMEOUT": "1m0s", "SIGNALING_DRAIN_RECONNECT_JITTER": "7s",
			"SIGNALING_LOG_LEVEL": "debug", "SIGNALING_DEMO": "true",
			"SIGNALING_PING_INTERVAL": "15s", "SIGNALING_PING_TIMEOUT": "10s",
			"SIGNALING_MAX_EVENT_BYTES": "32768", "SIGNALING_MAX_PAYLOAD": "500000", "SIGNALING_MAX_CHAT_LENGTH": "2000",
			"SIGNALING_EVENT_RATE": "50.5", "SIGNALING_EVENT_BURST": "100", "SIGNALING_SEND_QUEUE": "512",
			"SIGNALING_CHAT_HISTORY": "20", "SIGNALING_CHAT_HISTORY_TTL": "12h0m0s", "SIGNALING_CHAT_RATE": "0.5",
			"SIGNALING_CHAT_BURST": "5", "SIGNALING_CHAT_BUFFER_ROOM": "2000", "SIGNALING_CHAT_BUFFER_TOTAL": "20000",
			"SIGNALING_CHAT_BATCH_SIZE": "100", "SIGNALING_CHAT_FLUSH_INTERVAL": "250ms", "SIGNALING_CHAT_CLAIM_IDLE": "1m0s",
			"SIGNALING_MEDIA_BREAKER_THRESHOLD": "7", "SIGNALING_MEDIA_HEALTH_INTERVAL": "3s",
			"SIGNALING_P2P_FALLBACK_MAX_PARTICIPANTS": "0", "SIGNALING_DRAIN_MAX_RECONNECT_SHARE": "0.25",
			"SIGNALING_MEMORY_LIMIT_RATIO": "0.8",
			"SIGNALING_SEND_QUEUE_BYTES":   "1048576", "SIGNALING_JOIN_HISTORY_BYTES": "32768",
			"SIGNALING_JOIN_RATE": "1.5", "SIGNALING_JOIN_BURST": "4", "SIGNALING_RELAY_RATE": "30", "SIGNALING_RELAY_BURST": "60",
			"SIGNALING_RELAY_TARGET_RATE": "10", "SIGNALING_RELAY_TARGET_BURST": "25", "SIGNALING_CONNECT_TIMEOUT": "5s",
			"SIGNALING_MAX_CONNECTIONS": "20000", "SIGNALING_MAX_CONNECTIONS_PER_USER": "8", "SIGNALING_MAX_CONNECTIONS_PER_IP": "100",
			"SIGNALING_TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.1", "SIGNALING_REQUIRE_ROOM_GRANT": "true",
			"SIGNALING_TOKEN_REFRESH_LEAD": "2m0s", "SIGNALING_TOKEN_EXPIRY_GRACE": "5s", "SIGNALING_REVOCATION": "true",
			"SIGNALING_CHAT_HISTORY_ROOMS": "500",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredConfigData(tc.sc)
			if !maps.Equal(got, tc.want) {
				t.Errorf("config data\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestDesiredDeployment(t *testing.T) {
	opts := Options{SignalingImage: "default:img"}
	t.Run("minimal uses defaults", func(t *testing.T) {
		d := desiredDeployment(minimalCluster(), opts, "h1")
		ps := d.Spec.Template.Spec
		c := ps.Containers[0]
		checks := map[string]bool{
			"image from the flag":         c.Image == "default:img",
			"replicas default 2":          ptr.Deref(d.Spec.Replicas, 0) == 2,
			"grace = 30s drain + 15s":     ptr.Deref(ps.TerminationGracePeriodSeconds, 0) == 45,
			"maxUnavailable 0":            d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() == 0,
			"maxSurge 1":                  d.Spec.Strategy.RollingUpdate.MaxSurge.IntValue() == 1,
			"minReadySeconds 5":           d.Spec.MinReadySeconds == 5,
			"liveness /healthz":           c.LivenessProbe.HTTPGet.Path == "/healthz",
			"readiness /readyz":           c.ReadinessProbe.HTTPGet.Path == "/readyz",
			"port 8080":                   c.Ports[0].ContainerPort == 8080,
			"metrics port 9090, named":    len(c.Ports) == 2 && c.Ports[1].ContainerPort == 9090 && c.Ports[1].Name == "metrics",
			"scrape annotations":          d.Spec.Template.Annotations["prometheus.io/scrape"] == "true" && d.Spec.Template.Annotations["prometheus.io/port"] == "9090" && d.Spec.Template.Annotations["prometheus.io/path"] == "/metrics",
			"config hash annotation":      d.Spec.Template.Annotations[AnnotationConfigHash] == "h1",
			"template hash annotation":    d.Spec.Template.Annotations[AnnotationTemplateHash] != "",
			"no password env without ref": len(c.Env) == 1 && c.Env[0].Name == "SIGNALING_NODE_ID",
			"key volume":                  ps.Volumes[0].Secret.SecretName == "jwt" && ps.Volumes[0].Secret.Items[0].Key == "pub.pem",
			"selector matches the pods":   reflect.DeepEqual(d.Spec.Selector.MatchLabels, selectorLabels(minimalCluster(), componentSignaling)),
			"no service account token":    !ptr.Deref(ps.AutomountServiceAccountToken, true),
			"non-root":                    ptr.Deref(ps.SecurityContext.RunAsNonRoot, false),
			"explicit probe timeouts (no API-server default diff)": c.LivenessProbe.TimeoutSeconds > 0 && c.ReadinessProbe.SuccessThreshold == 1,
		}
		for name, ok := range checks {
			if !ok {
				t.Errorf("%s: failed", name)
			}
		}
	})
	t.Run("full", func(t *testing.T) {
		sc := fullCluster()
		d := desiredDeployment(sc, opts, "h")
		ps := d.Spec.Template.Spec
		c := ps.Containers[0]
		if c.Image != "img:1" || c.ImagePullPolicy != corev1.PullAlways || ptr.Deref(d.Spec.Replicas, 0) != 4 {
			t.Errorf("image/policy/replicas %s %s %d", c.Image, c.ImagePullPolicy, ptr.Deref(d.Spec.Replicas, 0))
		}
		if ptr.Deref(ps.TerminationGracePeriodSeconds, 0) != 75 || d.Spec.MinReadySeconds != 9 || d.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" {
			t.Errorf("timings %d %d %s", ptr.Deref(ps.TerminationGracePeriodSeconds, 0), d.Spec.MinReadySeconds, d.Spec.Strategy.RollingUpdate.MaxSurge)
		}
		if c.Env[1].Name != "SIGNALING_REDIS_PASSWORD" || c.Env[1].ValueFrom.SecretKeyRef.Key != "pw" {
			t.Errorf("password env %+v", c.Env)
		}
		if l := d.Spec.Template.Labels; l["team"] != "rt" || l[labelInstance] != "sig" {
			t.Errorf("pod labels %v: selector labels must win over podLabels", l)
		}
		if d.Spec.Template.Annotations["a"] != "b" {
			t.Errorf("pod annotations %v", d.Spec.Template.Annotations)
		}
		if tsc := ps.TopologySpreadConstraints[0]; tsc.LabelSelector == nil || tsc.LabelSelector.MatchLabels[labelInstance] != "sig" {
			t.Errorf("spread selector not filled: %+v", tsc)
		}
		if sc.Spec.TopologySpreadConstraints[0].LabelSelector != nil {
			t.Error("builder mutated the spec")
		}
	})
	t.Run("autoscaling leaves replicas to the HPA", func(t *testing.T) {
		sc := minimalCluster()
		sc.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MaxReplicas: 5}
		if d := desiredDeployment(sc, opts, "h"); d.Spec.Replicas != nil {
			t.Errorf("replicas %d, want nil", *d.Spec.Replicas)
		}
	})
	t.Run("template hash changes when a field is removed", func(t *testing.T) {
		sc := fullCluster()
		before := desiredDeployment(sc, opts, "h").Spec.Template.Annotations[AnnotationTemplateHash]
		sc.Spec.NodeSelector = nil
		after := desiredDeployment(sc, opts, "h").Spec.Template.Annotations[AnnotationTemplateHash]
		if before == after {
			t.Error("removing nodeSelector kept the template hash")
		}
	})
}

// The Service may be a public load balancer: it carries the client port only, and the
// metrics port is reachable on the pods (for the scrape annotations) and nowhere else.
func TestMetricsPortStaysOffTheService(t *testing.T) {
	for _, sc := range []*v1alpha1.SignalingCluster{minimalCluster(), fullCluster()} {
		svc := desiredService(sc)
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != intstr.FromString(signalingPortName) {
			t.Errorf("service ports %+v, want only the client port", svc.Spec.Ports)
		}
	}
	// spec.podAnnotations can turn scraping off.
	sc := fullCluster()
	sc.Spec.PodAnnotations = map[string]string{"prometheus.io/scrape": "false"}
	if got := desiredDeployment(sc, Options{}, "h").Spec.Template.Annotations["prometheus.io/scrape"]; got != "false" {
		t.Errorf("prometheus.io/scrape = %q, want the spec's false", got)
	}
}

// The bus key is a file from a Secret volume: the kubelet reads the Secret, the operator
// never does (no secretRefs entry, so it is neither loaded nor hashed).
func TestBusKeyIsMountedFromItsSecret(t *testing.T) {
	sc := fullCluster()
	ps := desiredDeployment(sc, Options{}, "h").Spec.Template.Spec
	var vol *corev1.Volume
	for i := range ps.Volumes {
		if ps.Volumes[i].Name == "bus-key" {
			vol = &ps.Volumes[i]
		}
	}
	if vol == nil || vol.Secret == nil || vol.Secret.SecretName != "bus" || len(vol.Secret.Items) != 1 || vol.Secret.Items[0].Key != "bus.key" {
		t.Fatalf("bus key volume = %+v in %+v", vol, ps.Volumes)
	}
	mounted := false
	for _, m := range ps.Containers[0].VolumeMounts {
		mounted = mounted || m.Name == "bus-key" && m.MountPath == "/etc/switchboard/bus" && m.ReadOnly
	}
	if !mounted {
		t.Errorf("bus key not mounted read-only at /etc/switchboard/bus: %+v", ps.Containers[0].VolumeMounts)
	}
	if got := desiredConfigData(sc)["SIGNALING_BUS_KEY_FILE"]; got != "/etc/switchboard/bus/bus.key" {
		t.Errorf("SIGNALING_BUS_KEY_FILE = %q", got)
	}
	for _, r := range secretRefs(sc) {
		if r.Name == "bus" {
			t.Errorf("the operator would read the bus key Secret: %+v", r)
		}
	}
	if _, ok := desiredConfigData(minimalCluster())["SIGNALING_BUS_KEY_FILE"]; ok {
		t.Error("bus key rendered without busKeySecretRef")
	}
}

func TestConfigHashCoversSecretsAndConfig(t *testing.T) {
	base := configHash(map[string]string{"A": "1"}, map[string][]byte{"jwt/pub": []byte("k1")})
	for name, h := range map[string]string{
		"secret rotated": configHash(map[string]string{"A": "1"}, map[string][]byte{"jwt/pub": []byte("k2")}),
		"config changed": configHash(map[string]string{"A": "2"}, map[string][]byte{"jwt/pub": []byte("k1")}),
		"secret missing": configHash(map[string]string{"A": "1"}, nil),
	} {
		if h == base {
			t.Errorf("%s: hash unchanged", name)
		}
	}
	if configHash(map[string]string{"A": "1", "B": "2"}, nil) != configHash(map[string]string{"B": "2", "A": "1"}, nil) {
		t.Error("hash depends on map order")
	}
}

func TestMutateDeploymentIgnoresServerDefaultsAndHPAReplicas(t *testing.T) {
	sc := minimalCluster()
	sc.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MaxReplicas: 5}
	desired := desiredDeployment(sc, Options{SignalingImage: "img"}, "h")

	// What the API server returns: defaults filled in, replicas set by the HPA.
	existing := desired.DeepCopy()
	existing.CreationTimestamp = metav1.Now()
	existing.Spec.Replicas = ptr.To[int32](4)
	ps := &existing.Spec.Template.Spec
	ps.RestartPolicy, ps.DNSPolicy, ps.SchedulerName = corev1.RestartPolicyAlways, corev1.DNSClusterFirst, "default-scheduler"
	c := &ps.Containers[0]
	c.TerminationMessagePath, c.TerminationMessagePolicy = "/dev/termination-log", corev1.TerminationMessageReadFile
	c.ImagePullPolicy = corev1.PullIfNotPresent
	ps.Volumes[0].Secret.DefaultMode = ptr.To[int32](0o644)
	before := existing.DeepCopy()

	mutateDeployment(existing, desired, nil)
	if !reflect.DeepEqual(before, existing) {
		t.Error("mutate changed a defaulted Deployment that matches the desired state")
	}

	// Someone edits the image: the template is restored.
	existing.Spec.Template.Spec.Containers[0].Image = "other"
	mutateDeployment(existing, desired, nil)
	if existing.Spec.Template.Spec.Containers[0].Image != "img" {
		t.Error("drift not corrected")
	}
	if ptr.Deref(existing.Spec.Replicas, 0) != 4 {
		t.Error("replicas overwritten while autoscaling")
	}
}

func TestMutateServiceKeepsAllocatedNodePorts(t *testing.T) {
	sc := minimalCluster()
	sc.Spec.Service.Type = corev1.ServiceTypeNodePort
	desired := desiredService(sc)
	existing := desired.DeepCopy()
	existing.Spec.Ports[0].NodePort = 30080
	existing.Spec.ClusterIP = "10.0.0.1"
	mutateService(existing, desired)
	if existing.Spec.Ports[0].NodePort != 30080 || existing.Spec.ClusterIP != "10.0.0.1" {
		t.Errorf("allocated fields lost: %+v", existing.Spec)
	}
}

func TestMutateServiceRemovesAnnotationsDroppedFromTheSpec(t *testing.T) {
	sc := minimalCluster()
	sc.Spec.Service.Annotations = map[string]string{"lb/type": "nlb", "lb/internal": "true"}
	existing := desiredService(sc).DeepCopy()
	existing.Annotations = nil
	mutateService(existing, desiredService(sc))
	existing.Annotations["cloud/assigned"] = "x" // written by someone else
	delete(sc.Spec.Service.Annotations, "lb/internal")
	mutateService(existing, desiredService(sc))
	if _, ok := existing.Annotations["lb/internal"]; ok {
		t.Error("annotation removed from the spec is still on the Service")
	}
	if existing.Annotations["lb/type"] != "nlb" || existing.Annotations["cloud/assigned"] != "x" {
		t.Errorf("annotations %v", existing.Annotations)
	}
	before := existing.DeepCopy()
	mutateService(existing, desiredService(sc))
	if !reflect.DeepEqual(before, existing) {
		t.Error("second mutate changed the Service")
	}
}

func TestOptionalObjects(t *testing.T) {
	sc := minimalCluster()
	if desiredPodDisruptionBudget(sc) != nil || desiredHPA(sc) != nil || desiredRedisDeployment(sc, Options{}, "") != nil || desiredRedisService(sc) != nil {
		t.Fatal("optional objects built without being asked for")
	}
	sc.Spec.PodDisruptionBudget = &v1alpha1.PodDisruptionBudgetSpec{}
	sc.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MaxReplicas: 6}
	sc.Spec.Redis = v1alpha1.RedisSpec{Managed: true, PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "r", Key: "p"}}
	if p := desiredPodDisruptionBudget(sc); p.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB %+v", p.Spec)
	}
	h := desiredHPA(sc)
	if ptr.Deref(h.Spec.MinReplicas, 0) != 2 || h.Spec.MaxReplicas != 6 || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 ||
		h.Spec.ScaleTargetRef.Kind != "Deployment" {
		t.Errorf("HPA %+v", h.Spec)
	}
	rd := desiredRedisDeployment(sc, Options{RedisImage: "redis:x"}, "h")
	if rd.Spec.Template.Spec.Containers[0].Image != "redis:x" ||
		rd.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("managed redis %+v", rd.Spec)
	}
	if got := desiredConfigData(sc)["SIGNALING_REDIS_ADDRS"]; got != "sig-redis.rtc.svc:6379" {
		t.Errorf("managed address %q", got)
	}
}
