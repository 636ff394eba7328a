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
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

func deployment(replicas, updated, ready, available int32, availableCond corev1.ConditionStatus) *appsv1.Deployment {
	d := &appsv1.Deployment{}
	d.Generation = 3
	d.Spec.Replicas = ptr.To(replicas)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: replicas, UpdatedReplicas: updated, ReadyReplicas: ready, AvailableReplicas: available,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: availableCond}}}
	return d
}

func TestComputeStatusConditions(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	healthy, unhealthy := true, false
	type want struct{ typ, status, reason string }
	cases := []struct {
		name   string
		mutate func(*v1alpha1.SignalingCluster)
		in     statusInputs
		want   []want
	}{
		{"nothing yet", nil, statusInputs{}, []want{
			{v1alpha1.ConditionAvailable, "False", v1alpha1.ReasonDeploymentPending},
			{v1alpha1.ConditionProgressing, "True", v1alpha1.ReasonDeploymentPending},
			{v1alpha1.ConditionRedisReady, "Unknown", v1alpha1.ReasonCheckPending},
			{v1alpha1.ConditionDegraded, "False", v1alpha1.ReasonAsExpected},
		}},
		{"rolled out and healthy", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://x"}
		},
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{
				Redis: &RedisCheck{OK: true, Reason: v1alpha1.ReasonRedisPingSucceeded},
				Media: &MediaHealth{Verdict: &healthy, LastProbe: now, ConsecutiveSuccesses: 1}}},
			[]want{
				{v1alpha1.ConditionAvailable, "True", v1alpha1.ReasonMinimumReplicasAvailable},
				{v1alpha1.ConditionProgressing, "False", v1alpha1.ReasonRolloutComplete},
				{v1alpha1.ConditionRedisReady, "True", v1alpha1.ReasonRedisPingSucceeded},
				{v1alpha1.ConditionMediaServiceHealthy, "True", v1alpha1.ReasonMediaHealthy},
				{v1alpha1.ConditionDegraded, "False", v1alpha1.ReasonAsExpected},
			}},
		{"rolling update", nil, statusInputs{Deployment: deployment(3, 1, 3, 3, corev1.ConditionTrue)}, []want{
			{v1alpha1.ConditionProgressing, "True", v1alpha1.ReasonRollingUpdate},
			{v1alpha1.ConditionAvailable, "True", v1alpha1.ReasonMinimumReplicasAvailable},
		}},
		{"redis down and media unhealthy degrade", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://x"}
		},
			statusInputs{Deployment: deployment(2, 2, 0, 0, corev1.ConditionFalse), Snapshot: &Snapshot{
				Redis: &RedisCheck{Reason: v1alpha1.ReasonRedisUnreachable, Message: "refused"},
				Media: &MediaHealth{Verdict: &unhealthy, LastProbe: now, ConsecutiveFailures: 3, LastError: "status 503"}}},
			[]want{
				{v1alpha1.ConditionAvailable, "False", v1alpha1.ReasonMinimumReplicasUnavailable},
				{v1alpha1.ConditionRedisReady, "False", v1alpha1.ReasonRedisUnreachable},
				{v1alpha1.ConditionMediaServiceHealthy, "False", v1alpha1.ReasonMediaUnhealthy},
				{v1alpha1.ConditionDegraded, "True", "RedisUnreachable"},
			}},
		{"missing password secret", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.Redis.PasswordSecretRef = &v1alpha1.SecretKeyRef{Name: "r", Key: "p"}
		}, statusInputs{PasswordMissing: true, MissingSecrets: []string{"r/p"}}, []want{
			{v1alpha1.ConditionRedisReady, "False", v1alpha1.ReasonSecretNotFound},
			{v1alpha1.ConditionDegraded, "True", v1alpha1.ReasonSecretNotFound},
		}},
		{"reconcile error", nil, statusInputs{ReconcileErr: errors.New("boom")}, []want{
			{v1alpha1.ConditionDegraded, "True", v1alpha1.ReasonReconcileError},
		}},
		{"verdict pending", func(sc *v1alpha1.SignalingCluster) {
			sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://x"}
		},
			statusInputs{Snapshot: &Snapshot{Media: &MediaHealth{LastProbe: now, ConsecutiveFailures: 1}}}, []want{
				{v1alpha1.ConditionMediaServiceHealthy, "Unknown", v1alpha1.ReasonCheckPending},
			}},
		{"scaled to zero", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Replicas = ptr.To[int32](0) },
			statusInputs{Deployment: deployment(0, 0, 0, 0, corev1.ConditionTrue)}, []want{
				{v1alpha1.ConditionAvailable, "False", v1alpha1.ReasonScaledToZero},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := minimalCluster()
			sc.Generation = 7
			if tc.mutate != nil {
				tc.mutate(sc)
			}
			tc.in.Now = now
			st := computeStatus(sc, tc.in)
			if st.ObservedGeneration != 7 {
				t.Errorf("observedGeneration %d", st.ObservedGeneration)
			}
			for _, w := range tc.want {
				c := meta.FindStatusCondition(st.Conditions, w.typ)
				if c == nil {
					t.Errorf("%s missing", w.typ)
					continue
				}
				if string(c.Status) != w.status || c.Reason != w.reason || c.ObservedGeneration != 7 {
					t.Errorf("%s = %s/%s (gen %d), want %s/%s", w.typ, c.Status, c.Reason, c.ObservedGeneration, w.status, w.reason)
				}
			}
			if sc.Spec.MediaService == nil && meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionMediaServiceHealthy) != nil {
				t.Error("MediaServiceHealthy present without a media service")
			}
		})
	}
}

// TestComputeStatusIsStable: recomputing from its own output with the same observations, or a
// fresh monitor that has not checked yet, yields an identical status (no write, no event).
func TestComputeStatusIsStable(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 500, time.UTC)
	healthy := true
	sc := minimalCluster()
	sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://x"}
	in := statusInputs{Deployment: deployment(2, 2, 2, 2, corev1.ConditionTrue), Now: now, Snapshot: &Snapshot{
		Redis: &RedisCheck{OK: true, Reason: v1alpha1.ReasonRedisPingSucceeded, Message: "ok"},
		Media: &MediaHealth{Verdict: &healthy, LastProbe: now, LastTransition: now, ConsecutiveSuccesses: 1}}}
	sc.Status = computeStatus(sc, in)

	later := in
	later.Now = now.Add(20 * time.Second)
	later.Snapshot = &Snapshot{Redis: in.Snapshot.Redis, Media: &MediaHealth{Verdict: &healthy, LastProbe: later.Now, LastTransition: now, ConsecutiveSuccesses: 1}}
	if got := computeStatus(sc, later); !equalStatus(got, sc.Status) {
		t.Errorf("a repeated healthy probe changed the status:\n%+v\n%+v", got, sc.Status)
	}
	restarted := in
	restarted.Snapshot = nil
	restarted.Now = now.Add(time.Hour)
	if got := computeStatus(sc, restarted); !equalStatus(got, sc.Status) {
		t.Errorf("a restarted monitor without results changed the status")
	}
	refresh := later
	refresh.Now = now.Add(2 * statusRefreshInterval)
	refresh.Snapshot.Media.LastProbe = refresh.Now
	if got := computeStatus(sc, refresh); got.MediaService.LastProbeTime.Equal(sc.Status.MediaService.LastProbeTime) {
		t.Error("lastProbeTime never refreshed")
	}
}

func equalStatus(a, b v1alpha1.SignalingClusterStatus) bool {
	return metav1EqualConditions(a.Conditions, b.Conditions) && mediaDetailEqualPtr(a.MediaService, b.MediaService) &&
		a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas
}

func metav1EqualConditions(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || !x.LastTransitionTime.Equal(&y.LastTransitionTime) {
			return false
		}
	}
	return true
}

func mediaDetailEqualPtr(a, b *v1alpha1.MediaServiceHealthStatus) bool {
	if a == nil || b == nil {
		return a == b
	}
	return mediaDetailEqual(a, b)
}
