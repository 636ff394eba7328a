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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// Options are the manager-wide inputs of the builders. They come from the manager's flags; the
// builders read nothing else from the environment.
type Options struct {
	// SignalingImage is used when spec.image is empty.
	SignalingImage string
	// RedisImage runs the managed Redis.
	RedisImage string
	// AllowedImagePrefixes, when set, restricts spec.image (imagepolicy.go).
	AllowedImagePrefixes []string
	// NetworkPolicies configures the rendered NetworkPolicies (networkpolicy.go).
	NetworkPolicies NetworkPolicyOptions
}

// Fixed parts of the signaling container contract.
const (
	signalingContainerName = "signaling"
	signalingPort          = 8080
	signalingPortName      = "http"
	// The node serves /metrics on a listener of its own, never on the client port (the
	// Service, possibly a public load balancer, exposes only signalingPort).
	metricsPort     = 9090
	metricsPortName = "metrics"
	jwtVolumeName   = "jwt-public-key"
	jwtMountDir     = "/etc/switchboard/jwt"
	busKeyVolume    = "bus-key"
	busKeyMountDir  = "/etc/switchboard/bus"
	redisPort       = v1alpha1.DefaultRedisPort

	// terminationMargin is added to the drain timeout for terminationGracePeriodSeconds, so the
	// node's own deadline always fires before the kubelet's SIGKILL.
	terminationMargin = 15 * time.Second

	// AnnotationConfigHash on the pod template hashes the ConfigMap data and every referenced
	// Secret value, so that a rotated key or password rolls the pods.
	AnnotationConfigHash = "signaling.switchboard.dev/config-hash"
	// AnnotationTemplateHash on the pod template hashes the whole desired template. It lets the
	// operator detect removed fields without comparing against API-server defaults.
	AnnotationTemplateHash = "signaling.switchboard.dev/template-hash"

	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue marks every object the operator creates; the manager's cache only holds
	// owned kinds carrying it.
	ManagedByValue = "switchboard-operator"

	componentSignaling = "signaling"
	componentRedis     = "redis"
)

// Object names derived from the SignalingCluster's name.
func signalingName(sc *v1alpha1.SignalingCluster) string { return sc.Name }
func redisName(sc *v1alpha1.SignalingCluster) string     { return sc.Name + "-redis" }

// selectorLabels select the pods of one component of one SignalingCluster. They are immutable.
func selectorLabels(sc *v1alpha1.SignalingCluster, component string) map[string]string {
	return map[string]string{
		labelName:      "switchboard",
		labelInstance:  sc.Name,
		labelComponent: component,
	}
}

func objectLabels(sc *v1alpha1.SignalingCluster, component string) map[string]string {
	l := selectorLabels(sc, component)
	l[labelManagedBy] = ManagedByValue
	return l
}

func objectMeta(sc *v1alpha1.SignalingCluster, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: sc.Namespace, Labels: objectLabels(sc, component)}
}

func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return def
	}
	return d.Duration
}

// redisAddresses are the addresses the signaling nodes (and the operator) use.
func redisAddresses(sc *v1alpha1.SignalingCluster) []string {
	if sc.Spec.Redis.Managed {
		return []string{fmt.Sprintf("%s.%s.svc:%d", redisName(sc), sc.Namespace, redisPort)}
	}
	return sc.Spec.Redis.Addresses
}

func redisMode(sc *v1alpha1.SignalingCluster) v1alpha1.RedisMode {
	if sc.Spec.Redis.Mode == "" {
		return v1alpha1.RedisModeStandalone
	}
	return sc.Spec.Redis.Mode
}

// secretRefs lists the Secrets a SignalingCluster references (for the field index and the hash).
func secretRefs(sc *v1alpha1.SignalingCluster) []*v1alpha1.SecretKeyRef {
	var refs []*v1alpha1.SecretKeyRef
	if r := sc.Spec.Redis.PasswordSecretRef; r != nil {
		refs = append(refs, r)
	}
	if r := sc.Spec.Auth.PublicKeySecretRef; r != nil {
		refs = append(refs, r)
	}
	return refs
}

// desiredConfigData is the non-secret configuration of the signaling nodes as SIGNALING_* env
// vars. Keys are only present for set fields, so the node's own defaults apply otherwise.
func desiredConfigData(sc *v1alpha1.SignalingCluster) map[string]string {
	s := sc.Spec
	d := map[string]string{
		"SIGNALING_LISTEN":         fmt.Sprintf(":%d", signalingPort),
		"SIGNALING_METRICS_LISTEN": fmt.Sprintf(":%d", metricsPort),
		"SIGNALING_REDIS_MODE":     string(redisMode(sc)),
		"SIGNALING_REDIS_ADDRS":    strings.Join(redisAddresses(sc), ","),
		"SIGNALING_REDIS_TLS":      strconv.FormatBool(s.Redis.TLS),
		"SIGNALING_DRAIN_TIMEOUT":  durationOr(s.Drain.Timeout, v1alpha1.DefaultDrainTimeout).String(),
	}
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	setDur := func(k string, v *metav1.Duration) {
		if v != nil {
			d[k] = v.Duration.String()
		}
	}
	set("SIGNALING_REDIS_MASTER_NAME", s.Redis.MasterName)
	set("SIGNALING_REDIS_USERNAME", s.Redis.Username)
	if r := s.Auth.PublicKeySecretRef; r != nil {
		d["SIGNALING_JWT_PUBLIC_KEY"] = path.Join(jwtMountDir, r.Key)
	}
	if r := s.Redis.BusKeySecretRef; r != nil {
		d["SIGNALING_BUS_KEY_FILE"] = path.Join(busKeyMountDir, r.Key)
	}
	set("SIGNALING_JWKS_URL", s.Auth.JWKSURL)
	setDur("SIGNALING_JWKS_REFRESH", s.Auth.JWKSRefresh)
	set("SIGNALING_JWT_COOKIE", s.Auth.CookieName)
	set("SIGNALING_JWT_ISSUER", s.Auth.Issuer)
	set("SIGNALING_JWT_AUDIENCE", s.Auth.Audience)
	set("SIGNALING_ALLOWED_ORIGINS", strings.Join(s.Auth.AllowedOrigins, ","))
	if rs := s.RoomService; rs != nil {
		set("SIGNALING_ROOM_SERVICE_URL", rs.URL)
		setDur("SIGNALING_ROOM_SERVICE_TIMEOUT", rs.Timeout)
	}
	if cs := s.ChatService; cs != nil {
		set("SIGNALING_CHAT_SERVICE_URL", cs.URL)
		setDur("SIGNALING_CHAT_SERVICE_TIMEOUT", cs.Timeout)
	}
	if ms := s.MediaService; ms != nil {
		set("SIGNALING_MEDIA_SERVICE_URL", ms.URL)
		setDur("SIGNALING_MEDIA_CREATE_TIMEOUT", ms.CreateTimeout)
		setDur("SIGNALING_MEDIA_CALL_TIMEOUT", ms.CallTimeout)
	}
	set("SIGNALING_DEFAULT_ROOM_MODE", string(s.DefaultRoomMode))
	if s.MaxRoomSize != nil {
		d["SIGNALING_MAX_ROOM_SIZE"] = strconv.Itoa(int(*s.MaxRoomSize))
	}
	setDur("SIGNALING_RECONNECT_WINDOW", s.ReconnectWindow)
	setDur("SIGNALING_RECOVERY_WINDOW", s.RecoveryWindow)
	setDur("SIGNALING_PRESENCE_TTL", s.PresenceTTL)
	setDur("SIGNALING_DRAIN_RECONNECT_JITTER", s.Drain.ReconnectJitter)
	set("SIGNALING_LOG_LEVEL", string(s.LogLevel))
	if s.Demo {
		d["SIGNALING_DEMO"] = "true"
	}
	addTuningEnv(d, &s)
	return d
}

// desiredConfigMap holds the non-secret settings; the signaling container reads it with envFrom.
func desiredConfigMap(sc *v1alpha1.SignalingCluster) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: objectMeta(sc, signalingName(sc), componentSignaling),
		Data:       desiredConfigData(sc),
	}
}

// configHash hashes the configuration data and the referenced Secret values (keyed by
// "secret/key"; a missing value hashes as absent). Any change rolls the pods.
func configHash(configData map[string]string, secretValues map[string][]byte) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(configData)) {
		fmt.Fprintf(h, "c\x00%s\x00%s\x00", k, configData[k])
	}
	for _, k := range slices.Sorted(maps.Keys(secretValues)) {
		fmt.Fprintf(h, "s\x00%s\x00%x\x00", k, sha256.Sum256(secretValues[k]))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func hashObject(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("hash: %v", err)) // only plain API structs are hashed
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:32]
}

// terminationGracePeriod is the drain timeout plus a margin, in whole seconds.
func terminationGracePeriod(sc *v1alpha1.SignalingCluster) int64 {
	d := durationOr(sc.Spec.Drain.Timeout, v1alpha1.DefaultDrainTimeout) + terminationMargin
	return int64(math.Ceil(d.Seconds()))
}

// desiredDeployment is the signaling Deployment. With autoscaling on, spec.replicas is left nil:
// the HorizontalPodAutoscaler owns it.
func desiredDeployment(sc *v1alpha1.SignalingCluster, opts Options, configHashValue string) *appsv1.Deployment {
	s := sc.Spec
	image := s.Image
	if image == "" {
		image = opts.SignalingImage
	}

	env := []corev1.EnvVar{{
		Name: "SIGNALING_NODE_ID",
		ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			APIVersion: "v1", FieldPath: "metadata.name",
		}},
	}}
	if r := redisPasswordRef(sc); r != nil {
		env = append(env, corev1.EnvVar{
			Name: "SIGNALING_REDIS_PASSWORD",
			ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: r.Name}, Key: r.Key,
			}},
		})
	}

	// The user's extra variables; the API server refuses SIGNALING_* names among them, so they
	// cannot shadow the node settings above.
	env = append(env, s.Env...)

	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	if r := s.Auth.PublicKeySecretRef; r != nil {
		volumes = append(volumes, corev1.Volume{
			Name: jwtVolumeName,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: r.Name,
				Items:      []corev1.KeyToPath{{Key: r.Key, Path: r.Key}},
			}},
		})
		mounts = append(mounts, corev1.VolumeMount{Name: jwtVolumeName, MountPath: jwtMountDir, ReadOnly: true})
	}
	// The bus key reaches the node as a file from a Secret volume: the kubelet reads the
	// Secret, the operator does not (it is not in secretRefs, so not in the config hash).
	if r := s.Redis.BusKeySecretRef; r != nil {
		volumes = append(volumes, corev1.Volume{
			Name: busKeyVolume,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: r.Name,
				Items:      []corev1.KeyToPath{{Key: r.Key, Path: r.Key}},
			}},
		})
		mounts = append(mounts, corev1.VolumeMount{Name: busKeyVolume, MountPath: busKeyMountDir, ReadOnly: true})
	}

	podLabels := map[string]string{}
	maps.Copy(podLabels, s.PodLabels)
	maps.Copy(podLabels, selectorLabels(sc, componentSignaling))

	// Prometheus' conventional pod discovery annotations name the metrics port: it is on
	// no Service, so scraping goes to the pods directly. spec.podAnnotations may override them.
	podAnnotations := map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(metricsPort),
		"prometheus.io/path":   "/metrics",
	}
	maps.Copy(podAnnotations, s.PodAnnotations)
	delete(podAnnotations, AnnotationTemplateHash)
	podAnnotations[AnnotationConfigHash] = configHashValue

	spread := make([]corev1.TopologySpreadConstraint, 0, len(s.TopologySpreadConstraints))
	for _, c := range s.TopologySpreadConstraints {
		c = *c.DeepCopy()
		if c.LabelSelector == nil {
			c.LabelSelector = &metav1.LabelSelector{MatchLabels: selectorLabels(sc, componentSignaling)}
		}
		spread = append(spread, c)
	}
	if len(spread) == 0 {
		spread = nil
	}

	httpProbe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString(signalingPortName), Scheme: corev1.URISchemeHTTP,
			}},
			PeriodSeconds: period, TimeoutSeconds: 2, SuccessThreshold: 1, FailureThreshold: failures,
		}
	}

	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
		Spec: corev1.PodSpec{
			ServiceAccountName:            s.ServiceAccountName,
			ImagePullSecrets:              s.ImagePullSecrets,
			PriorityClassName:             s.PriorityClassName,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To(terminationGracePeriod(sc)),
			NodeSelector:                  s.NodeSelector,
			Tolerations:                   s.Tolerations,
			Affinity:                      s.Affinity,
			TopologySpreadConstraints:     spread,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: volumes,
			Containers: []corev1.Container{{
				Name:            signalingContainerName,
				Image:           image,
				ImagePullPolicy: s.ImagePullPolicy,
				Ports: []corev1.ContainerPort{
					{Name: signalingPortName, ContainerPort: signalingPort, Protocol: corev1.ProtocolTCP},
					{Name: metricsPortName, ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP},
				},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: signalingName(sc)},
				}}},
				Env:            env,
				Resources:      s.Resources,
				VolumeMounts:   mounts,
				LivenessProbe:  httpProbe("/healthz", 10, 3),
				ReadinessProbe: httpProbe("/readyz", 5, 2),
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	template.Annotations[AnnotationTemplateHash] = hashObject(template)

	maxSurge := intstr.FromInt32(1)
	if s.Rollout.MaxSurge != nil {
		maxSurge = *s.Rollout.MaxSurge
	}
	minReady := v1alpha1.DefaultMinReadySeconds
	if s.Rollout.MinReadySeconds != nil {
		minReady = *s.Rollout.MinReadySeconds
	}
	var replicas *int32
	if s.Autoscaling == nil {
		replicas = ptr.To(ptr.Deref(s.Replicas, v1alpha1.DefaultReplicas))
	}

	return &appsv1.Deployment{
		ObjectMeta: objectMeta(sc, signalingName(sc), componentSignaling),
		Spec: appsv1.DeploymentSpec{
			Replicas:                replicas,
			Selector:                &metav1.LabelSelector{MatchLabels: selectorLabels(sc, componentSignaling)},
			Template:                template,
			MinReadySeconds:         minReady,
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       &maxSurge,
				},
			},
		},
	}
}

// desiredService exposes the client port (Socket.IO over WebSocket, /healthz, /readyz, /demo);
// metrics stay off it.
func desiredService(sc *v1alpha1.SignalingCluster) *corev1.Service {
	port := sc.Spec.Service.Port
	if port == 0 {
		port = v1alpha1.DefaultServicePort
	}
	typ := sc.Spec.Service.Type
	if typ == "" {
		typ = corev1.ServiceTypeClusterIP
	}
	svc := &corev1.Service{
		ObjectMeta: objectMeta(sc, signalingName(sc), componentSignaling),
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: selectorLabels(sc, componentSignaling),
			Ports: []corev1.ServicePort{{
				Name: signalingPortName, Port: port, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromString(signalingPortName),
			}},
		},
	}
	if len(sc.Spec.Service.Annotations) > 0 {
		svc.Annotations = maps.Clone(sc.Spec.Service.Annotations)
	}
	return svc
}

// desiredPodDisruptionBudget is nil when spec.podDisruptionBudget is unset.
func desiredPodDisruptionBudget(sc *v1alpha1.SignalingCluster) *policyv1.PodDisruptionBudget {
	p := sc.Spec.PodDisruptionBudget
	if p == nil {
		return nil
	}
	maxUnavailable := intstr.FromInt32(1)
	if p.MaxUnavailable != nil {
		maxUnavailable = *p.MaxUnavailable
	}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: objectMeta(sc, signalingName(sc), componentSignaling),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &maxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(sc, componentSignaling)},
		},
	}
}

// desiredHPA is nil when spec.autoscaling is unset.
func desiredHPA(sc *v1alpha1.SignalingCluster) *autoscalingv2.HorizontalPodAutoscaler {
	a := sc.Spec.Autoscaling
	if a == nil {
		return nil
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: objectMeta(sc, signalingName(sc), componentSignaling),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: "apps/v1", Kind: "Deployment", Name: signalingName(sc),
			},
			MinReplicas: ptr.To(ptr.Deref(a.MinReplicas, v1alpha1.DefaultReplicas)),
			MaxReplicas: a.MaxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{
						Type:               autoscalingv2.UtilizationMetricType,
						AverageUtilization: ptr.To(ptr.Deref(a.TargetCPUUtilizationPercentage, v1alpha1.DefaultAutoscalingCPUPercentage)),
					},
				},
			}},
		},
	}
}

// desiredRedisService fronts the managed Redis (nil unless spec.redis.managed).
func desiredRedisService(sc *v1alpha1.SignalingCluster) *corev1.Service {
	if !sc.Spec.Redis.Managed {
		return nil
	}
	return &corev1.Service{
		ObjectMeta: objectMeta(sc, redisName(sc), componentRedis),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(sc, componentRedis),
			Ports: []corev1.ServicePort{{
				Name: "redis", Port: redisPort, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("redis"),
			}},
		},
	}
}
