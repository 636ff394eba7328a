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

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RedisMode selects how the signaling nodes and the operator connect to Redis.
// +kubebuilder:validation:Enum=standalone;sentinel;cluster
type RedisMode string

// Redis modes.
const (
	RedisModeStandalone RedisMode = "standalone"
	RedisModeSentinel   RedisMode = "sentinel"
	RedisModeCluster    RedisMode = "cluster"
)

// RoomMode is the media mode of a room when the Room Service does not say otherwise.
// +kubebuilder:validation:Enum=p2p;sfu
type RoomMode string

// Room modes.
const (
	RoomModeP2P RoomMode = "p2p"
	RoomModeSFU RoomMode = "sfu"
)

// LogLevel of the signaling nodes.
// +kubebuilder:validation:Enum=debug;info;warn;error
type LogLevel string

// SignalingClusterSpec is the desired state of a tier of signaling nodes.
// +kubebuilder:validation:XValidation:rule="!has(self.defaultRoomMode) || self.defaultRoomMode != 'sfu' || has(self.mediaService)",message="defaultRoomMode sfu requires mediaService"
type SignalingClusterSpec struct {
	// Replicas is the number of signaling pods. Ignored while autoscaling is set: the
	// HorizontalPodAutoscaler owns the Deployment's replica count then.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// Image of the signaling node. Empty means the manager's --signaling-image.
	// +optional
	Image string `json:"image,omitempty"`

	// ImagePullPolicy of the signaling container.
	// +optional
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// Resources of the signaling container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// NodeSelector of the signaling pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the signaling pods.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity of the signaling pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// TopologySpreadConstraints of the signaling pods. The operator fills in the label selector
	// when it is empty.
	// +optional
	// +listType=atomic
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// PodAnnotations are added to the pod template.
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`

	// PodLabels are added to the pod template; they cannot override the operator's selector labels.
	// +optional
	PodLabels map[string]string `json:"podLabels,omitempty"`

	// ServiceAccountName of the signaling pods. Empty means the namespace's default.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// ImagePullSecrets of the signaling pods.
	// +optional
	// +listType=atomic
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// PriorityClassName of the signaling pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// Env adds environment variables to the signaling container (e.g. GODEBUG, GOMAXPROCS).
	// Node settings (SIGNALING_*) are typed fields of this spec and cannot be set here.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(e, !e.name.startsWith('SIGNALING_'))",message="env must not set SIGNALING_* variables: use the typed spec fields"
	Env []corev1.EnvVar `json:"env,omitempty"`

	// Demo serves the demo page (a video call with chat in the browser, docs/demo.md) at /demo
	// on every node: for trying a cluster out through a port-forward, not for production.
	// +optional
	Demo bool `json:"demo,omitempty"`

	// LogLevel of the signaling nodes.
	// +optional
	// +kubebuilder:default=info
	LogLevel LogLevel `json:"logLevel,omitempty"`

	// Redis the signaling nodes share.
	// +required
	Redis RedisSpec `json:"redis"`

	// Auth configures how the signaling nodes verify client JWTs.
	// +required
	Auth AuthSpec `json:"auth"`

	// RoomService is the Room Service; without it every room exists with defaultRoomMode.
	// +optional
	RoomService *ServiceEndpoint `json:"roomService,omitempty"`

	// ChatService persists chat messages; without it chat is not persisted.
	// +optional
	ChatService *ServiceEndpoint `json:"chatService,omitempty"`

	// MediaService is the SFU control API; required for rooms in sfu mode. The operator probes
	// its health endpoint and publishes the verdict to Redis.
	// +optional
	MediaService *MediaServiceSpec `json:"mediaService,omitempty"`

	// DefaultRoomMode is the mode of rooms the Room Service does not describe.
	// +optional
	DefaultRoomMode RoomMode `json:"defaultRoomMode,omitempty"`

	// MaxRoomSize caps the members of a room when the Room Service gives no limit.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxRoomSize *int32 `json:"maxRoomSize,omitempty"`

	// ReconnectWindow is how long a dropped user's membership is kept for a reconnect (Go duration).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	ReconnectWindow *metav1.Duration `json:"reconnectWindow,omitempty"`

	// RecoveryWindow is how long a dropped socket.io-client can get its session back on any
	// node (connection-state recovery: same room, every missed event); the user keeps their
	// place in the room that long. "0s" turns recovery off (Go duration; node default 2m).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	RecoveryWindow *metav1.Duration `json:"recoveryWindow,omitempty"`

	// PresenceTTL is the lifetime of a member's presence key between heartbeats (Go duration).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	PresenceTTL *metav1.Duration `json:"presenceTTL,omitempty"`

	// Heartbeat is the Engine.IO ping/pong between a node and its clients.
	// +optional
	Heartbeat HeartbeatSpec `json:"heartbeat,omitzero"`

	// Limits protect a node from one client: sizes, rates, the send queue.
	// +optional
	Limits LimitsSpec `json:"limits,omitzero"`

	// Chat tunes chat history, chat rate limits and the buffer in front of the Chat Service.
	// +optional
	Chat ChatSpec `json:"chat,omitzero"`

	// MemoryLimitRatio: in a container with a memory limit, the Go runtime's soft memory limit
	// is this share of it (a decimal in [0, 1]; "0" leaves the runtime alone;
	// SIGNALING_MEMORY_LIMIT_RATIO, node default "0.9").
	// +optional
	// +kubebuilder:validation:XValidation:rule="double(self) <= 1.0",message="memoryLimitRatio must be in [0, 1]"
	MemoryLimitRatio *Decimal `json:"memoryLimitRatio,omitempty"`

	// Drain configures how a terminating signaling node moves its clients away.
	// +optional
	// +kubebuilder:default={}
	Drain DrainSpec `json:"drain,omitzero"`

	// Rollout tunes the Deployment's rolling update.
	// +optional
	// +kubebuilder:default={}
	Rollout RolloutSpec `json:"rollout,omitzero"`

	// Service exposes the signaling pods.
	// +optional
	// +kubebuilder:default={}
	Service ServiceSpec `json:"service,omitzero"`

	// PodDisruptionBudget, when set, limits voluntary evictions of signaling pods.
	// +optional
	PodDisruptionBudget *PodDisruptionBudgetSpec `json:"podDisruptionBudget,omitempty"`

	// Autoscaling, when set, creates a HorizontalPodAutoscaler; spec.replicas is then ignored.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`
}

// RedisSpec describes the Redis deployment the signaling nodes share.
// +kubebuilder:validation:XValidation:rule="self.mode != 'sentinel' || (has(self.masterName) && size(self.masterName) > 0)",message="masterName is required when mode is sentinel"
// +kubebuilder:validation:XValidation:rule="(has(self.managed) && self.managed) != (has(self.addresses) && size(self.addresses) > 0)",message="set exactly one of managed: true or addresses"
// +kubebuilder:validation:XValidation:rule="!(has(self.managed) && self.managed) || self.mode == 'standalone'",message="managed Redis supports only mode standalone"
// +kubebuilder:validation:XValidation:rule="!has(self.managedInstance) || (has(self.managed) && self.managed)",message="managedInstance needs managed: true"
type RedisSpec struct {
	// Mode of the Redis deployment.
	// +optional
	// +kubebuilder:default=standalone
	Mode RedisMode `json:"mode,omitempty"`

	// Addresses are host:port pairs: the server (standalone), the sentinels (sentinel) or seed
	// nodes (cluster).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):[0-9]{1,5}$`
	Addresses []string `json:"addresses,omitempty"`

	// MasterName is the sentinel master name; required when mode is sentinel.
	// +optional
	MasterName string `json:"masterName,omitempty"`

	// Username for Redis ACL authentication.
	// +optional
	Username string `json:"username,omitempty"`

	// PasswordSecretRef selects the Redis password.
	// +optional
	PasswordSecretRef *SecretKeyRef `json:"passwordSecretRef,omitempty"`

	// BusKeySecretRef selects the shared key (32+ bytes; one per line, the first signs, all
	// verify) with which the nodes sign and check every Redis bus message
	// (SIGNALING_BUS_KEY_FILE, docs/redis.md). It is mounted into the pods as a file; the
	// operator never reads it. Changing the Secret takes effect when the pods restart.
	// +optional
	BusKeySecretRef *SecretKeyRef `json:"busKeySecretRef,omitempty"`

	// TLS enables TLS to Redis.
	// +optional
	TLS bool `json:"tls,omitempty"`

	// Managed makes the operator run a single Redis (Deployment + Service) with a generated
	// password, protected mode and a restricted security context. It has no replication: a
	// small or staging tier; production runs an external Redis.
	// +optional
	Managed bool `json:"managed,omitempty"`

	// ManagedInstance tunes the managed Redis (resources, append-only persistence); only valid
	// with managed: true.
	// +optional
	ManagedInstance *ManagedRedisSpec `json:"managedInstance,omitempty"`
}

// SecretKeyRef selects one key of a Secret in the SignalingCluster's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key inside the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// AuthSpec configures client authentication (RS256 JWTs).
// +kubebuilder:validation:XValidation:rule="has(self.publicKeySecretRef) || has(self.jwksURL)",message="set publicKeySecretRef or jwksURL"
type AuthSpec struct {
	// PublicKeySecretRef selects a PEM public key that verifies client tokens. It is mounted into
	// the pods; rotating it rolls the pods.
	// +optional
	PublicKeySecretRef *SecretKeyRef `json:"publicKeySecretRef,omitempty"`

	// JWKSURL is a JWKS endpoint to fetch verification keys from; https only (the nodes
	// refuse anything else outside dev mode).
	// +optional
	// +kubebuilder:validation:Pattern=`^https://\S+$`
	JWKSURL string `json:"jwksURL,omitempty"`

	// JWKSRefresh is how often the nodes fetch the JWKS in the background (Go duration,
	// SIGNALING_JWKS_REFRESH, node default 10m); a failed fetch keeps the last good key set.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="auth.jwksRefresh must be positive"
	JWKSRefresh *metav1.Duration `json:"jwksRefresh,omitempty"`

	// CookieName is a cookie that may carry the token instead of the handshake's auth payload.
	// +optional
	CookieName string `json:"cookieName,omitempty"`

	// Issuer that tokens must carry in "iss".
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// Audience that tokens must carry in "aud".
	// +optional
	Audience string `json:"audience,omitempty"`

	// RequireRoomGrant makes a join_room need a grant: the token's rooms claim or the Room
	// Service's members list must name the room or user (SIGNALING_REQUIRE_ROOM_GRANT;
	// production: on, docs/security.md).
	// +optional
	RequireRoomGrant bool `json:"requireRoomGrant,omitempty"`

	// TokenRefreshLead is how long before a token's exp a socket gets token_expiring, so the
	// client can send refresh_token (SIGNALING_TOKEN_REFRESH_LEAD; node default 60s, 0s = no
	// notice; docs/security.md §Token lifetime).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	TokenRefreshLead *metav1.Duration `json:"tokenRefreshLead,omitempty"`

	// TokenExpiryGrace is how long past exp a socket without a refreshed token stays open before
	// it gets token_expired and is disconnected (SIGNALING_TOKEN_EXPIRY_GRACE; node default 0s).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	TokenExpiryGrace *metav1.Duration `json:"tokenExpiryGrace,omitempty"`

	// Revocation refuses tokens whose jti has a Redis key revoked:{jti}, at CONNECT and
	// refresh_token; tokens must then carry jti (SIGNALING_REVOCATION; docs/security.md
	// §Revocation).
	// +optional
	Revocation bool `json:"revocation,omitempty"`

	// AllowedOrigins are the browser origins allowed to open a WebSocket.
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:Pattern=`^(\*|https?://[^/\s,]+)$`
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`
}

// ServiceEndpoint is an HTTP service the signaling nodes call.
type ServiceEndpoint struct {
	// URL is the base URL, e.g. http://room-service.rooms.svc:8080.
	// +required
	// +kubebuilder:validation:Pattern=`^https?://\S+$`
	URL string `json:"url"`

	// Timeout of one call (Go duration).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// MediaServiceSpec is the SFU control API and its health gate.
type MediaServiceSpec struct {
	// URL is the base URL of the media service.
	// +required
	// +kubebuilder:validation:Pattern=`^https?://\S+$`
	URL string `json:"url"`

	// CreateTimeout bounds transport/producer/consumer creation calls (Go duration).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	CreateTimeout *metav1.Duration `json:"createTimeout,omitempty"`

	// CallTimeout bounds the other calls (Go duration).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	CallTimeout *metav1.Duration `json:"callTimeout,omitempty"`

	// HealthCheck configures the operator's health gate.
	// +optional
	// +kubebuilder:default={}
	HealthCheck HealthCheckSpec `json:"healthCheck,omitzero"`

	// Breaker is each node's own circuit breaker in front of the media service.
	// +optional
	Breaker MediaBreakerSpec `json:"breaker,omitzero"`
}

// HealthCheckSpec configures how the operator probes the media service.
// +kubebuilder:validation:XValidation:rule="!has(self.interval) || duration(self.interval) >= duration('1s')",message="healthCheck.interval must be at least 1s"
// +kubebuilder:validation:XValidation:rule="!has(self.timeout) || !has(self.interval) || duration(self.timeout) <= duration(self.interval)",message="healthCheck.timeout must not exceed healthCheck.interval"
type HealthCheckSpec struct {
	// Path appended to the media service URL.
	// +optional
	// +kubebuilder:default="/health"
	// +kubebuilder:validation:Pattern=`^/\S*$`
	Path string `json:"path,omitempty"`

	// Interval between two probes (Go duration, at least 1s).
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Timeout of one probe (Go duration, at most interval).
	// +optional
	// +kubebuilder:default="2s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// FailureThreshold is the number of consecutive failed probes that mark the service unhealthy.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FailureThreshold int32 `json:"failureThreshold,omitempty"`

	// SuccessThreshold is the number of consecutive passed probes that mark it healthy again.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	SuccessThreshold int32 `json:"successThreshold,omitempty"`
}

// DrainSpec configures the drain of a terminating signaling node.
type DrainSpec struct {
	// Timeout is the time a node takes to move its clients away (Go duration). The pods'
	// terminationGracePeriodSeconds is this plus a margin.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('1h')",message="drain.timeout must be between 1s and 1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// ReconnectJitter spreads the clients' reconnects (Go duration).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	ReconnectJitter *metav1.Duration `json:"reconnectJitter,omitempty"`

	// MaxReconnectShare is the share of the node's sockets closed (and reconnected elsewhere)
	// per second during a drain (a decimal in (0, 1], SIGNALING_DRAIN_MAX_RECONNECT_SHARE,
	// node default "0.1").
	// +optional
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0 && double(self) <= 1.0",message="drain.maxReconnectShare must be in (0, 1]"
	MaxReconnectShare *Decimal `json:"maxReconnectShare,omitempty"`
}

// RolloutSpec tunes the Deployment's rolling update. maxUnavailable is always 0.
type RolloutSpec struct {
	// MaxSurge is how many extra pods a rollout may start at once.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:XIntOrString
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`

	// MinReadySeconds a new pod must be ready before it counts as available.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	MinReadySeconds *int32 `json:"minReadySeconds,omitempty"`
}

// ServiceSpec shapes the Service in front of the signaling pods.
type ServiceSpec struct {
	// Type of the Service.
	// +optional
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	Type corev1.ServiceType `json:"type,omitempty"`

	// Port the Service listens on.
	// +optional
	// +kubebuilder:default=80
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// Annotations of the Service (e.g. for a cloud load balancer).
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PodDisruptionBudgetSpec limits voluntary evictions of signaling pods.
type PodDisruptionBudgetSpec struct {
	// MaxUnavailable pods during voluntary disruptions.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:XIntOrString
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// AutoscalingSpec configures a HorizontalPodAutoscaler on CPU.
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",message="autoscaling.minReplicas must not exceed autoscaling.maxReplicas"
type AutoscalingSpec struct {
	// MinReplicas is the lower bound.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// MaxReplicas is the upper bound.
	// +required
	// +kubebuilder:validation:Minimum=1
	MaxReplicas int32 `json:"maxReplicas"`

	// TargetCPUUtilizationPercentage is the average CPU utilisation the autoscaler aims for.
	// +optional
	// +kubebuilder:default=70
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// SignalingClusterStatus is the observed state of a SignalingCluster.
type SignalingClusterStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Replicas is the number of signaling pods (all templates).
	// +optional
	Replicas int32 `json:"replicas"`

	// ReadyReplicas is the number of ready signaling pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`

	// UpdatedReplicas is the number of pods running the current template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas"`

	// Selector is the label selector of the signaling pods, for the scale subresource
	// (kubectl scale, HorizontalPodAutoscaler).
	// +optional
	Selector string `json:"selector,omitempty"`

	// DrainingReplicas is the number of signaling nodes that announce themselves as draining in
	// Redis (node:{id} keys with state "draining").
	// +optional
	DrainingReplicas int32 `json:"drainingReplicas"`

	// Conditions: Ready, Available, Progressing, RedisReady, MediaServiceHealthy, Degraded and,
	// only while True, Reconciling or Stalled (kstatus).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// MediaService is the detail of the media-service health gate.
	// +optional
	MediaService *MediaServiceHealthStatus `json:"mediaService,omitempty"`
}

// MediaServiceHealthStatus is the detail of the media-service health gate.
type MediaServiceHealthStatus struct {
	// Healthy is the current verdict.
	Healthy bool `json:"healthy"`

	// LastProbeTime is when the verdict or the counters last changed; while nothing changes it is
	// refreshed at most every 5 minutes to keep status writes low.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`

	// LastTransitionTime is when the verdict last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`

	// ConsecutiveFailures is the number of failed probes in a row.
	ConsecutiveFailures int32 `json:"consecutiveFailures"`

	// ConsecutiveSuccesses is the number of passed probes in a row, capped at successThreshold.
	ConsecutiveSuccesses int32 `json:"consecutiveSuccesses"`

	// LastError is the error of the last failed probe.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// SignalingCluster is a tier of signaling nodes with its Redis wiring and media-service health gate.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=sigc,categories=switchboard
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.replicas`
// +kubebuilder:printcolumn:name="Updated",type=integer,JSONPath=`.status.updatedReplicas`
// +kubebuilder:printcolumn:name="Draining",type=integer,JSONPath=`.status.drainingReplicas`
// +kubebuilder:printcolumn:name="Redis",type=string,JSONPath=`.status.conditions[?(@.type=="RedisReady")].status`
// +kubebuilder:printcolumn:name="Media",type=string,JSONPath=`.status.conditions[?(@.type=="MediaServiceHealthy")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Pods-Ready",type=integer,JSONPath=`.status.readyReplicas`,priority=1
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
type SignalingCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state.
	// +required
	Spec SignalingClusterSpec `json:"spec"`

	// Status is the observed state.
	// +optional
	Status SignalingClusterStatus `json:"status,omitzero"`
}

// SignalingClusterList is a list of SignalingClusters.
// +kubebuilder:object:root=true
type SignalingClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SignalingCluster `json:"items"`
}
