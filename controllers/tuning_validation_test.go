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
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// TestInvalidNodeTuningIsRejected: one case per validation rule of the node tuning fields; the
// API server refuses what the node's own config.Validate would refuse at start-up.
func TestInvalidNodeTuningIsRejected(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	dec := func(s string) *v1alpha1.Decimal { return ptr.To(v1alpha1.Decimal(s)) }
	cases := []struct {
		name   string
		mutate func(*v1alpha1.SignalingCluster)
		want   string
	}{
		{"every field set is accepted", func(sc *v1alpha1.SignalingCluster) {
			full := fullCluster().Spec
			full.Redis, full.Auth = sc.Spec.Redis, sc.Spec.Auth
			sc.Spec = full
		}, ""},
		{"event bytes within payload", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Limits = v1alpha1.LimitsSpec{MaxEventBytes: ptr.To[int32](2000), MaxPayloadBytes: ptr.To[int32](1000)}
		}, "limits.maxEventBytes must not exceed limits.maxPayloadBytes"},
		{"event bytes within the default payload", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Limits.MaxEventBytes = ptr.To[int32](2_000_000)
		}, "limits.maxEventBytes must not exceed limits.maxPayloadBytes (default 1000000)"},
		{"payload not below the default event size", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Limits.MaxPayloadBytes = ptr.To[int32](0)
		}, "spec.limits.maxPayloadBytes: Invalid value: 0"},
		{"event rate is a decimal", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Limits.EventRate = dec("1e3") },
			"spec.limits.eventRate: Invalid value"},
		{"event rate positive", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Limits.EventRate = dec("0.0") },
			"limits.eventRate must be positive"},
		{"send queue at least 1", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Limits.SendQueue = ptr.To[int32](0) },
			"spec.limits.sendQueue: Invalid value: 0"},
		{"ping interval positive", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Heartbeat.PingInterval = dur(0) },
			"heartbeat.pingInterval must be positive"},
		{"chat buffer room within total", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Chat = v1alpha1.ChatSpec{BufferRoom: ptr.To[int32](500), BufferTotal: ptr.To[int32](100)}
		}, "chat.bufferRoom must not exceed chat.bufferTotal"},
		{"chat buffer total not below the default room buffer", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Chat.BufferTotal = ptr.To[int32](5000)
		}, "chat.bufferTotal must be at least chat.bufferRoom (default 10000)"},
		{"chat batch size at most 5000", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Chat.BatchSize = ptr.To[int32](6000) },
			"spec.chat.batchSize: Invalid value: 6000"},
		{"chat rate positive", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Chat.Rate = dec("0") },
			"chat.rate must be positive"},
		{"chat flush interval positive", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Chat.FlushInterval = dur(0) },
			"chat.flushInterval must be positive"},
		{"breaker threshold at least 1", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://sfu.test", Breaker: v1alpha1.MediaBreakerSpec{Threshold: ptr.To[int32](0)}}
		}, "spec.mediaService.breaker.threshold: Invalid value: 0"},
		{"breaker probe interval positive", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://sfu.test", Breaker: v1alpha1.MediaBreakerSpec{ProbeInterval: dur(0)}}
		}, "breaker.probeInterval must be positive"},
		{"reconnect share at most 1", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Drain.MaxReconnectShare = dec("1.5") },
			"drain.maxReconnectShare must be in (0, 1]"},
		{"reconnect share above 0", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Drain.MaxReconnectShare = dec("0") },
			"drain.maxReconnectShare must be in (0, 1]"},
		{"memory ratio at most 1", func(sc *v1alpha1.SignalingCluster) { sc.Spec.MemoryLimitRatio = dec("1.01") },
			"memoryLimitRatio must be in [0, 1]"},
		{"env cannot set node settings", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Env = []corev1.EnvVar{{Name: "SIGNALING_DEV", Value: "true"}}
		}, "env must not set SIGNALING_* variables"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := newCluster(ns, "t"+strings.Repeat("x", i%3)+randSuffix(), "127.0.0.1:6399", "")
			tc.mutate(sc)
			createExpectingAdmission(t, sc, tc.want)
		})
	}
}
