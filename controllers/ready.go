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

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// setReadyConditions derives Ready and the kstatus pair Reconciling/Stalled from the conditions
// computed before it. kstatus (Helm 4's --wait, Flux, kpt) ignores Ready and reads only the
// abnormal-true conditions plus observedGeneration, so every not-Ready state is expressed as
// Reconciling (keep waiting) or Stalled (give up) as well.
func setReadyConditions(st *v1alpha1.SignalingClusterStatus, sc *v1alpha1.SignalingCluster, in statusInputs) {
	cond := func(typ string) *metav1.Condition { return meta.FindStatusCondition(st.Conditions, typ) }
	isTrue := func(typ string) bool { c := cond(typ); return c != nil && c.Status == metav1.ConditionTrue }

	var reason, message string
	notReady := func(r, m string) {
		if reason == "" {
			reason, message = r, m
		}
	}
	if in.ReconcileErr != nil {
		notReady(v1alpha1.ReasonReconcileError, in.ReconcileErr.Error())
	}
	if len(in.MissingSecrets) > 0 {
		notReady(v1alpha1.ReasonSecretNotFound, "missing Secret keys: "+strings.Join(in.MissingSecrets, ", "))
	}
	var stalled *metav1.Condition
	if p := cond(v1alpha1.ConditionProgressing); p == nil || p.Reason != v1alpha1.ReasonRolloutComplete {
		r, m := v1alpha1.ReasonRolloutInProgress, "waiting for the signaling Deployment"
		if p != nil {
			m = p.Message
			if p.Reason == v1alpha1.ReasonProgressDeadlineExceeded {
				r, stalled = v1alpha1.ReasonProgressDeadlineExceeded, p
			}
		}
		notReady(r, m)
	}
	if a := cond(v1alpha1.ConditionAvailable); a != nil && a.Status != metav1.ConditionTrue && a.Reason != v1alpha1.ReasonScaledToZero {
		notReady(a.Reason, a.Message)
	}
	if !isTrue(v1alpha1.ConditionRedisReady) {
		m := "waiting for the first Redis check"
		if c := cond(v1alpha1.ConditionRedisReady); c != nil {
			m = c.Message
		}
		notReady(v1alpha1.ReasonRedisNotReady, "Redis: "+m)
	}
	if c := cond(v1alpha1.ConditionMediaServiceHealthy); c != nil && c.Status == metav1.ConditionFalse {
		notReady(v1alpha1.ReasonMediaServiceUnhealthy, "media service: "+c.Message)
	}

	if reason == "" {
		setCondition(st, sc, in.Now, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReady,
			"rolled out, Redis reachable, media gate not failing")
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionStalled)
		return
	}
	setCondition(st, sc, in.Now, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	if stalled != nil {
		setCondition(st, sc, in.Now, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonProgressDeadlineExceeded, stalled.Message)
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionReconciling)
		return
	}
	setCondition(st, sc, in.Now, v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionStalled)
}

// signalingPodSelector is status.selector, the scale subresource's view of the signaling pods.
func signalingPodSelector(sc *v1alpha1.SignalingCluster) string {
	return labels.SelectorFromSet(selectorLabels(sc, componentSignaling)).String()
}
