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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The node's tuning settings, one field per node flag. A field left out keeps the node's own
// default (the operator renders only set fields). Cross-field rules compare against the node's
// defaults when one side is unset, so the API server rejects what the node would refuse.

// Decimal is a non-negative decimal number written as a string, e.g. "0.5" or "100". The node
// parses it as a float; a string keeps the value exactly as written (no float round-trip).
// +kubebuilder:validation:Pattern=`^(0|[1-9][0-9]{0,8})(\.[0-9]{1,9})?$`
// +kubebuilder:validation:MaxLength=19
type Decimal string

// LimitsSpec protects a node from one client: sizes, rates, the per-socket send queue and
// connection caps.
// +kubebuilder:validation:XValidation:rule="!has(self.maxEventBytes) || self.maxEventBytes <= (has(self.maxPayloadBytes) ? self.maxPayloadBytes : 1000000)",message="limits.maxEventBytes must not exceed limits.maxPayloadBytes (default 1000000)"
// +kubebuilder:validation:XValidation:rule="(has(self.sendQueueBytes) ? self.sendQueueBytes : 4194304) >= 2 * (has(self.maxEventBytes) ? self.maxEventBytes : 65536) && (has(self.sendQueueBytes) ? self.sendQueueBytes : 4194304) >= 2 * (has(self.joinHistoryBytes) ? self.joinHistoryBytes : 65536)",message="limits.sendQueueBytes (default 4194304) must be at least twice limits.maxEventBytes (default 65536) and twice limits.joinHistoryBytes (default 65536)"
type LimitsSpec struct {
	// MaxEventBytes is the largest event payload; larger ones get payload_too_large
	// (SIGNALING_MAX_EVENT_BYTES, node default 65536).
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxEventBytes *int32 `json:"maxEventBytes,omitempty"`

	// MaxPayloadBytes is the largest WebSocket frame; a larger frame closes the connection
	// (SIGNALING_MAX_PAYLOAD, node default 1000000).
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxPayloadBytes *int32 `json:"maxPayloadBytes,omitempty"`

	// MaxChatLength is the longest chat message in characters (SIGNALING_MAX_CHAT_LENGTH,
	// node default 4000).
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxChatLength *int32 `json:"maxChatLength,omitempty"`

	// EventRate is the events per second one socket may send (token bucket); excess gets
	// rate_limited (SIGNALING_EVENT_RATE, node default "100").
	// +optional
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0",message="limits.eventRate must be positive"
	EventRate *Decimal `json:"eventRate,omitempty"`

	// EventBurst is the burst size of the per-socket event rate limit (SIGNALING_EVENT_BURST,
	// node default 200).
	// +optional
	// +kubebuilder:validation:Minimum=1
	EventBurst *int32 `json:"eventBurst,omitempty"`

	// SendQueue is the number of frames queued per socket; a socket whose queue overflows is
	// disconnected as a slow consumer (SIGNALING_SEND_QUEUE, node default 256).
	// +optional
	// +kubebuilder:validation:Minimum=1
	SendQueue *int32 `json:"sendQueue,omitempty"`

	// SendQueueBytes is the number of bytes queued per socket; a socket whose queue holds more
	// is disconnected as a slow consumer (SIGNALING_SEND_QUEUE_BYTES, node default 4194304).
	// +optional
	// +kubebuilder:validation:Minimum=1
	SendQueueBytes *int32 `json:"sendQueueBytes,omitempty"`

	// JoinHistoryBytes is the most bytes of chat history in one join_room ack
	// (SIGNALING_JOIN_HISTORY_BYTES, node default 65536).
	// +optional
	// +kubebuilder:validation:Minimum=1
	JoinHistoryBytes *int32 `json:"joinHistoryBytes,omitempty"`

	// JoinRate is the join_room events per second one user may send on a node
	// (SIGNALING_JOIN_RATE, node default "2").
	// +optional
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0",message="limits.joinRate must be positive"
	JoinRate *Decimal `json:"joinRate,omitempty"`

	// JoinBurst is the burst size of the per-user join_room rate limit (SIGNALING_JOIN_BURST,
	// node default 10).
	// +optional
	// +kubebuilder:validation:Minimum=1
	JoinBurst *int32 `json:"joinBurst,omitempty"`

	// RelayRate is the webrtc_* relays per second one user may send on a node
	// (SIGNALING_RELAY_RATE, node default "50").
	// +optional
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0",message="limits.relayRate must be positive"
	RelayRate *Decimal `json:"relayRate,omitempty"`

	// RelayBurst is the burst size of the per-user relay rate limit (SIGNALING_RELAY_BURST,
	// node default 200).
	// +optional
	// +kubebuilder:validation:Minimum=1
	RelayBurst *int32 `json:"relayBurst,omitempty"`

	// RelayTargetRate is the webrtc_* relays per second from one user to one target user
	// (SIGNALING_RELAY_TARGET_RATE, node default "20").
	// +optional
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0",message="limits.relayTargetRate must be positive"
	RelayTargetRate *Decimal `json:"relayTargetRate,omitempty"`

	// RelayTargetBurst is the burst size of the per-sender-and-target relay rate limit
	// (SIGNALING_RELAY_TARGET_BURST, node default 50).
	// +optional
	// +kubebuilder:validation:Minimum=1
	RelayTargetBurst *int32 `json:"relayTargetBurst,omitempty"`

	// ConnectTimeout: a socket must authenticate this long after the upgrade at the latest
	// (Go duration, SIGNALING_CONNECT_TIMEOUT, node default 10s).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="limits.connectTimeout must be positive"
	ConnectTimeout *metav1.Duration `json:"connectTimeout,omitempty"`

	// MaxConnections is the most WebSocket connections on one node; 0 = unlimited
	// (SIGNALING_MAX_CONNECTIONS).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxConnections *int32 `json:"maxConnections,omitempty"`

	// MaxConnectionsPerUser is the most sockets of one user on one node; 0 = unlimited
	// (SIGNALING_MAX_CONNECTIONS_PER_USER).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxConnectionsPerUser *int32 `json:"maxConnectionsPerUser,omitempty"`

	// MaxConnectionsPerIP is the most connections from one client IP on one node; 0 =
	// unlimited (SIGNALING_MAX_CONNECTIONS_PER_IP; see trustedProxies).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxConnectionsPerIP *int32 `json:"maxConnectionsPerIP,omitempty"`

	// TrustedProxies are the CIDRs (or addresses) of load balancers whose X-Forwarded-For names
	// the client IP for maxConnectionsPerIP (SIGNALING_TRUSTED_PROXIES).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(p, isCIDR(p) || isIP(p))",message="limits.trustedProxies must be CIDRs or IP addresses"
	TrustedProxies []string `json:"trustedProxies,omitempty"`
}

// HeartbeatSpec is the Engine.IO heartbeat between a node and its clients.
type HeartbeatSpec struct {
	// PingInterval is the Engine.IO ping interval (Go duration, SIGNALING_PING_INTERVAL,
	// node default 25s).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="heartbeat.pingInterval must be positive"
	PingInterval *metav1.Duration `json:"pingInterval,omitempty"`

	// PingTimeout is the pong deadline; a client that misses it is disconnected (Go duration,
	// SIGNALING_PING_TIMEOUT, node default 20s).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="heartbeat.pingTimeout must be positive"
	PingTimeout *metav1.Duration `json:"pingTimeout,omitempty"`
}

// ChatSpec tunes chat history, chat rate limits and the buffer in front of the Chat Service.
// +kubebuilder:validation:XValidation:rule="!has(self.bufferRoom) || self.bufferRoom <= (has(self.bufferTotal) ? self.bufferTotal : 100000)",message="chat.bufferRoom must not exceed chat.bufferTotal (default 100000)"
// +kubebuilder:validation:XValidation:rule="!has(self.bufferTotal) || has(self.bufferRoom) || self.bufferTotal >= 10000",message="chat.bufferTotal must be at least chat.bufferRoom (default 10000)"
type ChatSpec struct {
	// History is the number of chat messages per room kept for, and sent in, the join_room ack
	// (SIGNALING_CHAT_HISTORY, node default 50).
	// +optional
	// +kubebuilder:validation:Minimum=1
	History *int32 `json:"history,omitempty"`

	// HistoryTTL: with Redis, a room's chat history expires after this long without messages
	// (Go duration, SIGNALING_CHAT_HISTORY_TTL, node default 24h).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="chat.historyTTL must be positive"
	HistoryTTL *metav1.Duration `json:"historyTTL,omitempty"`

	// HistoryRooms: without Redis, the number of rooms whose chat history is kept in memory
	// (SIGNALING_CHAT_HISTORY_ROOMS, node default 10000).
	// +optional
	// +kubebuilder:validation:Minimum=1
	HistoryRooms *int32 `json:"historyRooms,omitempty"`

	// Rate is the chat messages per second one user may send (token bucket); excess gets
	// rate_limited (SIGNALING_CHAT_RATE, node default "10").
	// +optional
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0",message="chat.rate must be positive"
	Rate *Decimal `json:"rate,omitempty"`

	// Burst is the burst size of the per-user chat rate limit (SIGNALING_CHAT_BURST, node
	// default 20).
	// +optional
	// +kubebuilder:validation:Minimum=1
	Burst *int32 `json:"burst,omitempty"`

	// BufferRoom is the number of unsaved chat messages one room may hold while the Chat
	// Service is slow or down; beyond it senders get rate_limited (SIGNALING_CHAT_BUFFER_ROOM,
	// node default 10000).
	// +optional
	// +kubebuilder:validation:Minimum=1
	BufferRoom *int32 `json:"bufferRoom,omitempty"`

	// BufferTotal is the number of unsaved chat messages in all rooms (cluster-wide with Redis,
	// approximately) (SIGNALING_CHAT_BUFFER_TOTAL, node default 100000).
	// +optional
	// +kubebuilder:validation:Minimum=1
	BufferTotal *int32 `json:"bufferTotal,omitempty"`

	// BatchSize is the number of chat messages per POST to the Chat Service
	// (SIGNALING_CHAT_BATCH_SIZE, node default 500).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5000
	BatchSize *int32 `json:"batchSize,omitempty"`

	// FlushInterval is how often buffered chat messages are sent to the Chat Service (Go
	// duration, SIGNALING_CHAT_FLUSH_INTERVAL, node default 100ms).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="chat.flushInterval must be positive"
	FlushInterval *metav1.Duration `json:"flushInterval,omitempty"`

	// ClaimIdle: with Redis, chat messages another node has held unsaved this long are taken
	// over (a dead node). 0s means 2 x (chat service timeout + 5s) (Go duration,
	// SIGNALING_CHAT_CLAIM_IDLE).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	ClaimIdle *metav1.Duration `json:"claimIdle,omitempty"`
}

// MediaBreakerSpec is the node's own circuit breaker in front of the Media Service (distinct
// from the operator's health gate in mediaService.healthCheck).
type MediaBreakerSpec struct {
	// Threshold is the number of consecutive Media Service failures (5xx, refused, timeout) that
	// open the breaker (SIGNALING_MEDIA_BREAKER_THRESHOLD, node default 5).
	// +optional
	// +kubebuilder:validation:Minimum=1
	Threshold *int32 `json:"threshold,omitempty"`

	// ProbeInterval is how often an open breaker polls the Media Service's GET /health (Go
	// duration, SIGNALING_MEDIA_HEALTH_INTERVAL, node default 2s).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="breaker.probeInterval must be positive"
	ProbeInterval *metav1.Duration `json:"probeInterval,omitempty"`

	// P2PFallbackMaxParticipants: while the Media Service is unavailable, sfu rooms with at most
	// this many participants switch to P2P; 0 = never (SIGNALING_P2P_FALLBACK_MAX_PARTICIPANTS,
	// node default 3).
	// +optional
	// +kubebuilder:validation:Minimum=0
	P2PFallbackMaxParticipants *int32 `json:"p2pFallbackMaxParticipants,omitempty"`
}
