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
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// TestInvalidSignalingClustersAreRejected: one case per validation rule of the CRD schema; the
// API server must refuse the object with a message naming the problem.
func TestInvalidSignalingClustersAreRejected(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	cases := []struct {
		name   string
		mutate func(*v1alpha1.SignalingCluster)
		want   string
	}{
		{"sentinel needs masterName", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Redis.Mode = v1alpha1.RedisModeSentinel },
			"masterName is required when mode is sentinel"},
		{"redis mode enum", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Redis.Mode = "replicated" },
			`spec.redis.mode: Unsupported value: "replicated"`},
		{"addresses or managed, not neither", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Redis.Addresses = nil },
			"set exactly one of managed: true or addresses"},
		{"addresses or managed, not both", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Redis.Managed = true },
			"set exactly one of managed: true or addresses"},
		{"managed only standalone", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Redis = v1alpha1.RedisSpec{Managed: true, Mode: v1alpha1.RedisModeCluster}
		}, "managed Redis supports only mode standalone"},
		{"address is host:port", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Redis.Addresses = []string{"redis"} },
			"spec.redis.addresses[0]: Invalid value"},
		{"secret ref needs a key", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Redis.PasswordSecretRef = &v1alpha1.SecretKeyRef{Name: "redis"}
		}, "spec.redis.passwordSecretRef.key"},
		{"auth needs a key source", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Auth = v1alpha1.AuthSpec{} },
			"set publicKeySecretRef or jwksURL"},
		{"jwksURL is a URL", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Auth.JWKSURL = "auth.example.test/jwks" },
			"spec.auth.jwksURL: Invalid value"},
		{"jwksURL is https", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Auth.JWKSURL = "http://auth.example.test/jwks" },
			"spec.auth.jwksURL: Invalid value"},
		{"origin is an origin", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Auth.AllowedOrigins = []string{"app.example.test/path"} },
			"spec.auth.allowedOrigins[0]: Invalid value"},
		{"replicas not negative", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Replicas = ptr.To[int32](-1) },
			"spec.replicas: Invalid value: -1"},
		{"pull policy enum", func(sc *v1alpha1.SignalingCluster) { sc.Spec.ImagePullPolicy = "Sometimes" },
			`spec.imagePullPolicy: Unsupported value: "Sometimes"`},
		{"log level enum", func(sc *v1alpha1.SignalingCluster) { sc.Spec.LogLevel = "verbose" },
			`spec.logLevel: Unsupported value: "verbose"`},
		{"room mode enum", func(sc *v1alpha1.SignalingCluster) { sc.Spec.DefaultRoomMode = "mesh" },
			`spec.defaultRoomMode: Unsupported value: "mesh"`},
		{"sfu needs a media service", func(sc *v1alpha1.SignalingCluster) { sc.Spec.DefaultRoomMode = v1alpha1.RoomModeSFU },
			"defaultRoomMode sfu requires mediaService"},
		{"maxRoomSize at least 1", func(sc *v1alpha1.SignalingCluster) { sc.Spec.MaxRoomSize = ptr.To[int32](0) },
			"spec.maxRoomSize: Invalid value: 0"},
		{"room service URL", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.RoomService = &v1alpha1.ServiceEndpoint{URL: "rooms:8080"}
		},
			"spec.roomService.url: Invalid value"},
		{"duration syntax", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.ChatService = &v1alpha1.ServiceEndpoint{URL: "http://chat.test", Timeout: dur(-time.Second)}
		}, "spec.chatService.timeout: Invalid value"},
		{"media URL", func(sc *v1alpha1.SignalingCluster) { sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "sfu"} },
			"spec.mediaService.url: Invalid value"},
		{"health interval at least 1s", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://sfu.test", HealthCheck: v1alpha1.HealthCheckSpec{Interval: dur(100 * time.Millisecond)}}
		}, "healthCheck.interval must be at least 1s"},
		{"health timeout within interval", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://sfu.test", HealthCheck: v1alpha1.HealthCheckSpec{Interval: dur(2 * time.Second), Timeout: dur(5 * time.Second)}}
		}, "healthCheck.timeout must not exceed healthCheck.interval"},
		{"health path absolute", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://sfu.test", HealthCheck: v1alpha1.HealthCheckSpec{Path: "health"}}
		}, "spec.mediaService.healthCheck.path: Invalid value"},
		{"failure threshold at least 1", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://sfu.test", HealthCheck: v1alpha1.HealthCheckSpec{FailureThreshold: -1}}
		}, "spec.mediaService.healthCheck.failureThreshold: Invalid value: -1"},
		{"drain timeout bounds", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Drain.Timeout = dur(2 * time.Hour) },
			"drain.timeout must be between 1s and 1h"},
		{"service type enum", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Service.Type = "ExternalName" },
			`spec.service.type: Unsupported value: "ExternalName"`},
		{"service port range", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Service.Port = 70000 },
			"spec.service.port: Invalid value: 70000"},
		{"autoscaling min <= max", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: ptr.To[int32](5), MaxReplicas: 3}
		}, "autoscaling.minReplicas must not exceed autoscaling.maxReplicas"},
		{"autoscaling needs maxReplicas", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{} },
			"spec.autoscaling.maxReplicas"},
		{"cpu target range", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MaxReplicas: 3, TargetCPUUtilizationPercentage: ptr.To[int32](150)}
		}, "spec.autoscaling.targetCPUUtilizationPercentage: Invalid value: 150"},
		{"rollout minReadySeconds not negative", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Rollout.MinReadySeconds = ptr.To[int32](-1) },
			"spec.rollout.minReadySeconds: Invalid value: -1"},
		{"pdb maxUnavailable int or string", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.PodDisruptionBudget = &v1alpha1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromString("1"))}
		}, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := newCluster(ns, "v"+strings.Repeat("x", i%3)+randSuffix(), "127.0.0.1:6399", "")
			tc.mutate(sc)
			createExpectingAdmission(t, sc, tc.want)
		})
	}
}

// createExpectingAdmission creates sc and checks the API server's verdict: accepted when want
// is empty (a control case proving the base object valid), otherwise rejected as Invalid with
// a message containing want.
func createExpectingAdmission(t *testing.T, sc *v1alpha1.SignalingCluster, want string) {
	t.Helper()
	err := testClient.Create(context.Background(), sc)
	if want == "" {
		if err != nil {
			t.Fatalf("valid object rejected: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted; want rejection with %q", want)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("error %v is not Invalid", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err.Error(), want)
	}
}
