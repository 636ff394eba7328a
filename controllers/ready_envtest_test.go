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
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// TestReadyFollowsTheRolloutAndScaleSubresourceScales: against a real API server, Ready turns
// True once the Deployment is rolled out with Redis reachable, every condition carries the
// current generation, and `kubectl scale sigc` (the scale subresource) changes spec.replicas,
// which the Deployment follows — after which Ready is False (Reconciling) until the new pods
// are rolled out.
func TestReadyFollowsTheRolloutAndScaleSubresourceScales(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, redisAddr := newWiredNamespace(t, "")
	startManager(t, ns, testOptions)
	sc := newCluster(ns, "sig", redisAddr, "")
	sc.Spec.Replicas = ptr.To[int32](2)
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)
	dep := &appsv1.Deployment{}
	eventually(t, 30*time.Second, "Deployment", func() error { return testClient.Get(ctx, key, dep) })

	// envtest has no Deployment controller: report a finished rollout of n pods ourselves.
	rolledOut := func(n int32) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := testClient.Get(ctx, key, dep); err != nil {
				return err
			}
			dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: n, UpdatedReplicas: n,
				ReadyReplicas: n, AvailableReplicas: n,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
					Reason: "MinimumReplicasAvailable", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}
			return testClient.Status().Update(ctx, dep)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitCondition(t, key, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRolloutInProgress)
	rolledOut(2)
	s := waitCondition(t, key, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReady)
	for _, c := range s.Status.Conditions {
		if c.ObservedGeneration != s.Generation {
			t.Errorf("%s: observedGeneration %d, generation %d", c.Type, c.ObservedGeneration, s.Generation)
		}
		if c.Type == v1alpha1.ConditionReconciling || c.Type == v1alpha1.ConditionStalled {
			t.Errorf("%s present on a Ready cluster", c.Type)
		}
	}

	scale := &autoscalingv1.Scale{}
	if err := testClient.SubResource("scale").Get(ctx, s, scale); err != nil {
		t.Fatalf("scale subresource: %v", err)
	}
	if scale.Spec.Replicas != 2 || scale.Status.Selector != signalingPodSelector(s) || scale.Status.Selector == "" {
		t.Fatalf("scale = %+v, want 2 replicas and selector %q", scale, signalingPodSelector(s))
	}
	scale.Spec.Replicas = 5
	if err := testClient.SubResource("scale").Update(ctx, s, client.WithSubResourceBody(scale)); err != nil {
		t.Fatalf("scale to 5: %v", err)
	}
	eventually(t, 20*time.Second, "Deployment scaled to 5", func() error {
		if err := testClient.Get(ctx, key, dep); err != nil {
			return err
		}
		if r := ptr.Deref(dep.Spec.Replicas, 0); r != 5 {
			return fmt.Errorf("deployment replicas %d", r)
		}
		return nil
	})
	s = waitCondition(t, key, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonRolloutInProgress)
	if ptr.Deref(s.Spec.Replicas, 0) != 5 {
		t.Errorf("spec.replicas %d after scaling", ptr.Deref(s.Spec.Replicas, 0))
	}
	rolledOut(5)
	waitCondition(t, key, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReady)
}
