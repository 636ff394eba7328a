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
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/switchboard-rtc/switchboard/signaling/config"
)

// renderedEnv is the environment the signaling container of d sees: its envFrom ConfigMap
// (rendered by desiredConfigData), its env values, secrets as "secret:<name>/<key>" and
// the downward API as "field:<path>".
func renderedEnv(t *testing.T, c corev1.Container, configData map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("unexpected envFrom source %+v", from)
		}
		for k, v := range configData {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		default:
			t.Fatalf("env %s has an unexpected source", e.Name)
		}
	}
	return env
}

// The other side of the operator↔node contract: what the operator renders for a fully
// specified SignalingCluster parses with the node's own configuration parser into the
// configuration the spec asks for, and no rendered SIGNALING_* variable is unknown to it.
func TestRenderedEnvironmentParsesWithTheNodesConfig(t *testing.T) {
	sc := fullCluster()
	d := desiredDeployment(sc, Options{SignalingImage: "sig:1", RedisImage: "redis:1"}, "hash")
	var c corev1.Container
	for _, cc := range d.Spec.Template.Spec.Containers {
		if cc.Name == signalingContainerName {
			c = cc
		}
	}
	env := renderedEnv(t, c, desiredConfigData(sc))
	got, err := config.Parse(c.Args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("the node refuses the rendered configuration: %v\nenv: %v", err, env)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("the rendered configuration does not validate: %v", err)
	}
	// --help lists every flag with its environment variable.
	var usage strings.Builder
	_, _ = config.Parse([]string{"--help"}, func(string) string { return "" }, &usage)
	for k := range env {
		if strings.HasPrefix(k, config.EnvPrefix) && !strings.Contains(usage.String(), k) {
			t.Errorf("the operator renders %s, which the node does not know", k)
		}
	}

	s := func(v string) time.Duration { d, _ := time.ParseDuration(v); return d }
	// Start from the node's defaults and pin every field the spec sets: a rendered setting that
	// is not pinned here, or a pinned one that does not arrive, fails the comparison.
	want := config.Defaults()
	want.Listen, want.MetricsListen, want.NodeID = ":8080", ":9090", "field:metadata.name"
	want.LogLevel = "debug"
	want.JWTPublicKey = "/etc/switchboard/jwt/pub.pem"
	want.JWKSURL, want.JWTCookie, want.JWTIssuer, want.JWTAudience = "https://a/jwks", "tok", "iss", "aud"
	want.JWKSRefresh = s("5m")
	want.BusKeyFile = "/etc/switchboard/bus/bus.key"
	want.AllowedOrigins = []string{"https://a", "https://b"}
	want.RedisMode, want.RedisAddrs, want.RedisMasterName = "sentinel", []string{"s1:26379", "s2:26379"}, "m"
	want.RedisUsername, want.RedisPassword, want.RedisTLS = "u", "secret:redis/pw", true
	want.RoomServiceURL, want.RoomServiceTimeout = "http://rooms", s("2s")
	want.ChatServiceURL, want.ChatServiceTimeout = "http://chat", s("6s")
	want.MediaServiceURL, want.MediaCreateTimeout, want.MediaCallTimeout = "http://sfu/", s("4s"), s("2500ms")
	want.DefaultRoomMode, want.MaxRoomSize = "sfu", 50
	want.ReconnectWindow, want.PresenceTTL, want.RecoveryWindow = s("30s"), s("20s"), s("90s")
	want.DrainTimeout, want.DrainReconnectJitter, want.DrainMaxReconnectShare = s("1m"), s("7s"), 0.25
	want.PingInterval, want.PingTimeout = s("15s"), s("10s")
	want.MaxEventBytes, want.MaxPayload, want.MaxChatLength = 32768, 500000, 2000
	want.EventRate, want.EventBurst, want.SendQueue = 50.5, 100, 512
	want.ChatHistory, want.ChatHistoryTTL, want.ChatRate, want.ChatBurst = 20, s("12h"), 0.5, 5
	want.ChatBufferRoom, want.ChatBufferTotal, want.ChatBatchSize = 2000, 20000, 100
	want.ChatFlushInterval, want.ChatClaimIdle = s("250ms"), s("1m")
	want.MediaBreakerThreshold, want.MediaHealthInterval, want.P2PFallbackMaxParticipants = 7, s("3s"), 0
	want.MemoryLimitRatio = 0.8
	want.SendQueueBytes, want.JoinHistoryBytes, want.JoinRate, want.JoinBurst = 1<<20, 32768, 1.5, 4
	want.RelayRate, want.RelayBurst, want.RelayTargetRate, want.RelayTargetBurst = 30, 60, 10, 25
	want.ConnectTimeout, want.MaxConnections, want.MaxConnectionsPerUser, want.MaxConnectionsPerIP = s("5s"), 20000, 8, 100
	want.TrustedProxies, want.RequireRoomGrant, want.ChatHistoryRooms = []string{"10.0.0.0/8", "192.168.1.1"}, true, 500
	want.TokenRefreshLead, want.TokenExpiryGrace, want.Revocation = s("2m"), s("5s"), true
	want.Demo = true
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("node config from the rendered env:\n got %+v\nwant %+v", got, want)
	}
}
