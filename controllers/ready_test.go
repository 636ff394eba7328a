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
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// TestReadyIsTrueOnlyWhenRolledOutRedisReachableAndMediaNotFailing: the kstatus trio. Ready is
// True only for a finished rollout with Redis reachable and the media gate not failing; every
// other state is Reconciling (keep waiting) or, after the progress deadline, Stalled; the two
// abnormal-true conditions are absent otherwise; every condition carries observedGeneration.
func TestReadyIsTrueOnlyWhenRolledOutRedisReachableAndMediaNotFailing(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	healthy, unhealthy := true, false
	redisOK := &RedisCheck{OK: true, Reason: v1alpha1.ReasonRedisPingSucceeded}
	withMedia := func(sc *v1alpha1.SignalingCluster) {
		sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://x"}
	}
	stalledDeployment := deployment(3, 1, 3, 3, corev1.ConditionTrue)
	stalledDeployment.Status.Conditions = append(stalledDeployment.Status.Conditions, appsv1.DeploymentCondition{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "stuck"})

	cases := []struct {
		name        string
		mutate      func(*v1alpha1.SignalingCluster)
		in          statusInputs
		ready       bool
		reason      string
		reconciling bool
		stalled     bool
	}{
		{"rolled out, redis up, no media service", nil,
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{Redis: redisOK}},
			true, v1alpha1.ReasonReady, false, false},
		{"rolled out, redis up, media healthy", withMedia,
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{Redis: redisOK,
				Media: &MediaHealth{Verdict: &healthy, LastProbe: now, ConsecutiveSuccesses: 1}}},
			true, v1alpha1.ReasonReady, false, false},
		{"rolled out, redis up, media verdict pending is not failing", withMedia,
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{Redis: redisOK,
				Media: &MediaHealth{LastProbe: now, ConsecutiveFailures: 1}}},
			true, v1alpha1.ReasonReady, false, false},
		{"scaled to zero with redis up", func(sc *v1alpha1.SignalingCluster) { sc.Spec.Replicas = ptr.To[int32](0) },
			statusInputs{Deployment: deployment(0, 0, 0, 0, corev1.ConditionTrue), Snapshot: &Snapshot{Redis: redisOK}},
			true, v1alpha1.ReasonReady, false, false},
		{"no deployment yet", nil, statusInputs{Snapshot: &Snapshot{Redis: redisOK}},
			false, v1alpha1.ReasonRolloutInProgress, true, false},
		{"rolling update", nil,
			statusInputs{Deployment: deployment(3, 1, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{Redis: redisOK}},
			false, v1alpha1.ReasonRolloutInProgress, true, false},
		{"redis unreachable", nil,
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{
				Redis: &RedisCheck{Reason: v1alpha1.ReasonRedisUnreachable, Message: "refused"}}},
			false, v1alpha1.ReasonRedisNotReady, true, false},
		{"redis not checked yet", nil,
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue)},
			false, v1alpha1.ReasonRedisNotReady, true, false},
		{"media gate failing", withMedia,
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{Redis: redisOK,
				Media: &MediaHealth{Verdict: &unhealthy, LastProbe: now, ConsecutiveFailures: 3}}},
			false, v1alpha1.ReasonMediaServiceUnhealthy, true, false},
		{"missing secret", nil,
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{Redis: redisOK},
				MissingSecrets: []string{"jwt/public.pem"}},
			false, v1alpha1.ReasonSecretNotFound, true, false},
		{"reconcile error", nil,
			statusInputs{Deployment: deployment(3, 3, 3, 3, corev1.ConditionTrue), Snapshot: &Snapshot{Redis: redisOK},
				ReconcileErr: errors.New("boom")},
			false, v1alpha1.ReasonReconcileError, true, false},
		{"progress deadline exceeded", nil,
			statusInputs{Deployment: stalledDeployment, Snapshot: &Snapshot{Redis: redisOK}},
			false, v1alpha1.ReasonProgressDeadlineExceeded, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := minimalCluster()
			sc.Generation = 4
			if tc.mutate != nil {
				tc.mutate(sc)
			}
			tc.in.Now = now
			st := computeStatus(sc, tc.in)
			ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			if ready == nil {
				t.Fatal("Ready missing")
			}
			if meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReady) != tc.ready || ready.Reason != tc.reason {
				t.Errorf("Ready = %s/%s (%s), want ready=%v reason %s", ready.Status, ready.Reason, ready.Message, tc.ready, tc.reason)
			}
			if got := meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReconciling); got != tc.reconciling {
				t.Errorf("Reconciling = %v, want %v", got, tc.reconciling)
			}
			if got := meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionStalled); got != tc.stalled {
				t.Errorf("Stalled = %v, want %v", got, tc.stalled)
			}
			for _, typ := range []string{v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled} {
				if c := meta.FindStatusCondition(st.Conditions, typ); c != nil && c.Status != "True" {
					t.Errorf("%s is %s: kstatus conditions are abnormal-true, present only when True", typ, c.Status)
				}
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != 4 {
					t.Errorf("%s has observedGeneration %d, want 4", c.Type, c.ObservedGeneration)
				}
			}
		})
	}
}
