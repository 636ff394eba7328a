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
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// nodeEnv collects SIGNALING_* settings, skipping unset fields so that the node's own defaults
// apply to them.
type nodeEnv map[string]string

func (e nodeEnv) int32(key string, v *int32) {
	if v != nil {
		e[key] = strconv.FormatInt(int64(*v), 10)
	}
}

func (e nodeEnv) duration(key string, v *metav1.Duration) {
	if v != nil {
		e[key] = v.Duration.String()
	}
}

func (e nodeEnv) decimal(key string, v *v1alpha1.Decimal) {
	if v != nil {
		e[key] = string(*v)
	}
}

// addTuningEnv renders the node's tuning fields (limits, heartbeat, chat, media breaker,
// drain pacing, memory limit). Connection wiring (Redis, auth, services) is rendered by
// desiredConfigData.
func addTuningEnv(e nodeEnv, s *v1alpha1.SignalingClusterSpec) {
	e.int32("SIGNALING_MAX_EVENT_BYTES", s.Limits.MaxEventBytes)
	e.int32("SIGNALING_MAX_PAYLOAD", s.Limits.MaxPayloadBytes)
	e.int32("SIGNALING_MAX_CHAT_LENGTH", s.Limits.MaxChatLength)
	e.decimal("SIGNALING_EVENT_RATE", s.Limits.EventRate)
	e.int32("SIGNALING_EVENT_BURST", s.Limits.EventBurst)
	e.int32("SIGNALING_SEND_QUEUE", s.Limits.SendQueue)
	e.int32("SIGNALING_SEND_QUEUE_BYTES", s.Limits.SendQueueBytes)
	e.int32("SIGNALING_JOIN_HISTORY_BYTES", s.Limits.JoinHistoryBytes)
	e.decimal("SIGNALING_JOIN_RATE", s.Limits.JoinRate)
	e.int32("SIGNALING_JOIN_BURST", s.Limits.JoinBurst)
	e.decimal("SIGNALING_RELAY_RATE", s.Limits.RelayRate)
	e.int32("SIGNALING_RELAY_BURST", s.Limits.RelayBurst)
	e.decimal("SIGNALING_RELAY_TARGET_RATE", s.Limits.RelayTargetRate)
	e.int32("SIGNALING_RELAY_TARGET_BURST", s.Limits.RelayTargetBurst)
	e.duration("SIGNALING_CONNECT_TIMEOUT", s.Limits.ConnectTimeout)
	e.int32("SIGNALING_MAX_CONNECTIONS", s.Limits.MaxConnections)
	e.int32("SIGNALING_MAX_CONNECTIONS_PER_USER", s.Limits.MaxConnectionsPerUser)
	e.int32("SIGNALING_MAX_CONNECTIONS_PER_IP", s.Limits.MaxConnectionsPerIP)
	if len(s.Limits.TrustedProxies) > 0 {
		e["SIGNALING_TRUSTED_PROXIES"] = strings.Join(s.Limits.TrustedProxies, ",")
	}
	if s.Auth.RequireRoomGrant {
		e["SIGNALING_REQUIRE_ROOM_GRANT"] = "true"
	}
	e.duration("SIGNALING_TOKEN_REFRESH_LEAD", s.Auth.TokenRefreshLead)
	e.duration("SIGNALING_TOKEN_EXPIRY_GRACE", s.Auth.TokenExpiryGrace)
	if s.Auth.Revocation {
		e["SIGNALING_REVOCATION"] = "true"
	}

	e.duration("SIGNALING_PING_INTERVAL", s.Heartbeat.PingInterval)
	e.duration("SIGNALING_PING_TIMEOUT", s.Heartbeat.PingTimeout)

	e.int32("SIGNALING_CHAT_HISTORY", s.Chat.History)
	e.int32("SIGNALING_CHAT_HISTORY_ROOMS", s.Chat.HistoryRooms)
	e.duration("SIGNALING_CHAT_HISTORY_TTL", s.Chat.HistoryTTL)
	e.decimal("SIGNALING_CHAT_RATE", s.Chat.Rate)
	e.int32("SIGNALING_CHAT_BURST", s.Chat.Burst)
	e.int32("SIGNALING_CHAT_BUFFER_ROOM", s.Chat.BufferRoom)
	e.int32("SIGNALING_CHAT_BUFFER_TOTAL", s.Chat.BufferTotal)
	e.int32("SIGNALING_CHAT_BATCH_SIZE", s.Chat.BatchSize)
	e.duration("SIGNALING_CHAT_FLUSH_INTERVAL", s.Chat.FlushInterval)
	e.duration("SIGNALING_CHAT_CLAIM_IDLE", s.Chat.ClaimIdle)

	if ms := s.MediaService; ms != nil {
		e.int32("SIGNALING_MEDIA_BREAKER_THRESHOLD", ms.Breaker.Threshold)
		e.duration("SIGNALING_MEDIA_HEALTH_INTERVAL", ms.Breaker.ProbeInterval)
		e.int32("SIGNALING_P2P_FALLBACK_MAX_PARTICIPANTS", ms.Breaker.P2PFallbackMaxParticipants)
	}

	e.decimal("SIGNALING_DRAIN_MAX_RECONNECT_SHARE", s.Drain.MaxReconnectShare)
	e.decimal("SIGNALING_MEMORY_LIMIT_RATIO", s.MemoryLimitRatio)
}
