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
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// statusInputs is everything the status is computed from; computeStatus is pure.
type statusInputs struct {
	// Deployment is the signaling Deployment as last read (nil when it does not exist yet).
	Deployment *appsv1.Deployment
	// RedisDeployment is the managed Redis Deployment (nil unless managed).
	RedisDeployment *appsv1.Deployment
	// Snapshot is the health monitor's view (nil when the monitor has not run for this cluster).
	Snapshot *Snapshot
	// MissingSecrets lists "secret/key" references that could not be resolved.
	MissingSecrets []string
	// PasswordMissing is set when the Redis password reference is among MissingSecrets.
	PasswordMissing bool
	// UnlabelledSecrets lists "secret/key" references whose Secret lacks the opt-in label.
	UnlabelledSecrets []string
	// ImageRefused says why spec.image was refused; empty when it was not.
	ImageRefused string
	// PasswordUnlabelled is set when the Redis password reference is among UnlabelledSecrets.
	PasswordUnlabelled bool
	// ReconcileErr is the error of applying the owned objects.
	ReconcileErr error
	// Now is the time of this computation.
	Now time.Time
}

// computeStatus derives the status from the previous status and the observations.
func computeStatus(sc *v1alpha1.SignalingCluster, in statusInputs) v1alpha1.SignalingClusterStatus {
	st := *sc.Status.DeepCopy()
	st.ObservedGeneration = sc.Generation
	// metav1.Time has second precision on the wire; truncate so a round-trip compares equal.
	in.Now = in.Now.Truncate(time.Second)
	if d := in.Deployment; d != nil {
		st.Replicas, st.ReadyReplicas, st.UpdatedReplicas = d.Status.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas
	} else {
		st.Replicas, st.ReadyReplicas, st.UpdatedReplicas = 0, 0, 0
	}
	st.Selector = signalingPodSelector(sc)
	if in.Snapshot != nil && in.Snapshot.DrainingKnown {
		st.DrainingReplicas = in.Snapshot.Draining
	}
	setAvailableCondition(&st, sc, in)
	setProgressingCondition(&st, sc, in)
	setRedisReadyCondition(&st, sc, in)
	setMediaServiceCondition(&st, sc, in)
	setDegradedCondition(&st, sc, in)
	setReadyConditions(&st, sc, in)
	return st
}

func setCondition(st *v1alpha1.SignalingClusterStatus, sc *v1alpha1.SignalingCluster, now time.Time,
	typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message,
		ObservedGeneration: sc.Generation, LastTransitionTime: metav1.NewTime(now),
	})
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func setAvailableCondition(st *v1alpha1.SignalingClusterStatus, sc *v1alpha1.SignalingCluster, in statusInputs) {
	d := in.Deployment
	switch {
	case d == nil:
		setCondition(st, sc, in.Now, v1alpha1.ConditionAvailable, metav1.ConditionFalse,
			v1alpha1.ReasonDeploymentPending, "the signaling Deployment does not exist yet")
	case ptr.Deref(d.Spec.Replicas, 1) == 0:
		setCondition(st, sc, in.Now, v1alpha1.ConditionAvailable, metav1.ConditionFalse,
			v1alpha1.ReasonScaledToZero, "replicas is 0")
	default:
		c := deploymentCondition(d, appsv1.DeploymentAvailable)
		msg := fmt.Sprintf("%d of %d pods available", d.Status.AvailableReplicas, ptr.Deref(d.Spec.Replicas, 1))
		if c != nil && c.Status == corev1.ConditionTrue && d.Status.AvailableReplicas > 0 {
			setCondition(st, sc, in.Now, v1alpha1.ConditionAvailable, metav1.ConditionTrue, v1alpha1.ReasonMinimumReplicasAvailable, msg)
		} else {
			setCondition(st, sc, in.Now, v1alpha1.ConditionAvailable, metav1.ConditionFalse, v1alpha1.ReasonMinimumReplicasUnavailable, msg)
		}
	}
}

func setProgressingCondition(st *v1alpha1.SignalingClusterStatus, sc *v1alpha1.SignalingCluster, in statusInputs) {
	d := in.Deployment
	if d == nil {
		setCondition(st, sc, in.Now, v1alpha1.ConditionProgressing, metav1.ConditionTrue,
			v1alpha1.ReasonDeploymentPending, "waiting for the signaling Deployment")
		return
	}
	if c := deploymentCondition(d, appsv1.DeploymentProgressing); c != nil && c.Status == corev1.ConditionFalse &&
		c.Reason == "ProgressDeadlineExceeded" {
		setCondition(st, sc, in.Now, v1alpha1.ConditionProgressing, metav1.ConditionFalse,
			v1alpha1.ReasonProgressDeadlineExceeded, c.Message)
		return
	}
	desired := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	msg := fmt.Sprintf("%d of %d pods updated, %d ready, %d available", s.UpdatedReplicas, desired, s.ReadyReplicas, s.AvailableReplicas)
	if s.ObservedGeneration < d.Generation || s.UpdatedReplicas < desired || s.Replicas > s.UpdatedReplicas ||
		s.AvailableReplicas < s.UpdatedReplicas {
		if s.ObservedGeneration < d.Generation {
			msg = "waiting for the Deployment controller to observe the new template; " + msg
		}
		setCondition(st, sc, in.Now, v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonRollingUpdate, msg)
		return
	}
	setCondition(st, sc, in.Now, v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonRolloutComplete, msg)
}

func setRedisReadyCondition(st *v1alpha1.SignalingClusterStatus, sc *v1alpha1.SignalingCluster, in statusInputs) {
	switch {
	case in.PasswordUnlabelled:
		setCondition(st, sc, in.Now, v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonSecretNotLabelled,
			fmt.Sprintf("Redis password Secret %s is not labelled %s=%s, so the operator does not read it",
				sc.Spec.Redis.PasswordSecretRef.Name, v1alpha1.LabelSecretUse, v1alpha1.LabelSecretUseValue))
	case in.PasswordMissing:
		setCondition(st, sc, in.Now, v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound,
			fmt.Sprintf("Redis password Secret %s/%s not found", sc.Spec.Redis.PasswordSecretRef.Name, sc.Spec.Redis.PasswordSecretRef.Key))
	case sc.Spec.Redis.Managed:
		setManagedRedisReady(st, sc, in)
	case in.Snapshot == nil || in.Snapshot.Redis == nil:
		// No check has completed since the manager started: keep what was recorded before.
		if meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionRedisReady) == nil {
			setCondition(st, sc, in.Now, v1alpha1.ConditionRedisReady, metav1.ConditionUnknown, v1alpha1.ReasonCheckPending,
				"waiting for the first PING")
		}
	case in.Snapshot.Redis.OK:
		setCondition(st, sc, in.Now, v1alpha1.ConditionRedisReady, metav1.ConditionTrue, in.Snapshot.Redis.Reason, in.Snapshot.Redis.Message)
	default:
		setCondition(st, sc, in.Now, v1alpha1.ConditionRedisReady, metav1.ConditionFalse, in.Snapshot.Redis.Reason, in.Snapshot.Redis.Message)
	}
}

func setMediaServiceCondition(st *v1alpha1.SignalingClusterStatus, sc *v1alpha1.SignalingCluster, in statusInputs) {
	if sc.Spec.MediaService == nil {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionMediaServiceHealthy)
		st.MediaService = nil
		return
	}
	if in.Snapshot == nil || in.Snapshot.Media == nil || in.Snapshot.Media.LastProbe.IsZero() {
		if meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionMediaServiceHealthy) == nil {
			setCondition(st, sc, in.Now, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionUnknown, v1alpha1.ReasonCheckPending,
				"waiting for the first health check")
		}
		return
	}
	mh := in.Snapshot.Media
	switch {
	case mh.Verdict == nil:
		setCondition(st, sc, in.Now, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionUnknown, v1alpha1.ReasonCheckPending,
			fmt.Sprintf("%d consecutive failures, %d passes so far", mh.ConsecutiveFailures, mh.ConsecutiveSuccesses))
	case *mh.Verdict:
		setCondition(st, sc, in.Now, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionTrue, v1alpha1.ReasonMediaHealthy,
			"the media service health endpoint answers")
	default:
		setCondition(st, sc, in.Now, v1alpha1.ConditionMediaServiceHealthy, metav1.ConditionFalse, v1alpha1.ReasonMediaUnhealthy,
			verdictReason(mh))
	}

	detail := &v1alpha1.MediaServiceHealthStatus{
		Healthy:              mh.Verdict != nil && *mh.Verdict,
		ConsecutiveFailures:  mh.ConsecutiveFailures,
		ConsecutiveSuccesses: mh.ConsecutiveSuccesses,
		LastError:            mh.LastError,
		LastProbeTime:        ptr.To(metav1.NewTime(mh.LastProbe.Truncate(time.Second))),
	}
	if !mh.LastTransition.IsZero() {
		detail.LastTransitionTime = ptr.To(metav1.NewTime(mh.LastTransition.Truncate(time.Second)))
	}
	// Keep the recorded probe time while nothing else changed and it is fresh enough: a
	// steady state then costs no status write per probe.
	if prev := sc.Status.MediaService; prev != nil && prev.LastProbeTime != nil {
		same := *detail
		same.LastProbeTime = prev.LastProbeTime
		if mediaDetailEqual(&same, prev) && detail.LastProbeTime.Sub(prev.LastProbeTime.Time) < statusRefreshInterval {
			detail = &same
		}
	}
	st.MediaService = detail
}

func mediaDetailEqual(a, b *v1alpha1.MediaServiceHealthStatus) bool {
	timeEq := func(x, y *metav1.Time) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Equal(y)
	}
	return a.Healthy == b.Healthy && a.ConsecutiveFailures == b.ConsecutiveFailures &&
		a.ConsecutiveSuccesses == b.ConsecutiveSuccesses && a.LastError == b.LastError &&
		timeEq(a.LastProbeTime, b.LastProbeTime) && timeEq(a.LastTransitionTime, b.LastTransitionTime)
}

func setDegradedCondition(st *v1alpha1.SignalingClusterStatus, sc *v1alpha1.SignalingCluster, in statusInputs) {
	var reasons, messages []string
	add := func(reason, msg string) {
		reasons = append(reasons, reason)
		messages = append(messages, msg)
	}
	if in.ReconcileErr != nil {
		add(v1alpha1.ReasonReconcileError, in.ReconcileErr.Error())
	}
	if len(in.MissingSecrets) > 0 {
		add(v1alpha1.ReasonSecretNotFound, "missing Secret keys: "+strings.Join(in.MissingSecrets, ", "))
	}
	if in.ImageRefused != "" {
		add(v1alpha1.ReasonImageNotAllowed, in.ImageRefused)
	}
	if len(in.UnlabelledSecrets) > 0 {
		add(v1alpha1.ReasonSecretNotLabelled, fmt.Sprintf("Secrets not labelled %s=%s (not read by the operator): %s",
			v1alpha1.LabelSecretUse, v1alpha1.LabelSecretUseValue, strings.Join(in.UnlabelledSecrets, ", ")))
	}
	// A managed Redis counts once signaling pods exist: until then nothing needs to reach it.
	podsExist := in.Deployment != nil && in.Deployment.Status.Replicas > 0
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionRedisReady); c != nil && c.Status == metav1.ConditionFalse &&
		!in.PasswordMissing && !in.PasswordUnlabelled && (!sc.Spec.Redis.Managed || podsExist) {
		add("Redis"+c.Reason, "Redis: "+c.Message)
	}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionMediaServiceHealthy); c != nil && c.Status == metav1.ConditionFalse {
		add("MediaService"+c.Reason, "media service: "+c.Message)
	}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionProgressing); c != nil && c.Reason == v1alpha1.ReasonProgressDeadlineExceeded {
		add(v1alpha1.ReasonProgressDeadlineExceeded, "rollout: "+c.Message)
	}
	if len(reasons) == 0 {
		setCondition(st, sc, in.Now, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected, "")
		return
	}
	setCondition(st, sc, in.Now, v1alpha1.ConditionDegraded, metav1.ConditionTrue, reasons[0], strings.Join(messages, "; "))
}

// updateStatus computes the status once and writes it only when it changed; it emits Events
// for RedisReady and MediaServiceHealthy transitions.
func (r *SignalingClusterReconciler) updateStatus(ctx context.Context, s *scope, reconcileErr error) error {
	in := statusInputs{
		Deployment:         s.deployment,
		RedisDeployment:    s.redisDeployment,
		MissingSecrets:     s.missingSecrets,
		PasswordMissing:    !s.passwordOK && !s.passwordUnlabelled,
		UnlabelledSecrets:  s.unlabelledSecrets,
		ImageRefused:       s.imageRefused,
		PasswordUnlabelled: s.passwordUnlabelled,
		ReconcileErr:       reconcileErr,
		Now:                r.Now(),
	}
	if snap, ok := r.Monitor.Snapshot(s.key); ok {
		in.Snapshot = &snap
	}
	if s.deployment == nil && reconcileErr != nil {
		// Applying failed: describe the Deployment as it is, if it exists.
		d := &appsv1.Deployment{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: s.sc.Namespace, Name: signalingName(s.sc)}, d); err == nil {
			in.Deployment = d
		}
	}
	newStatus := computeStatus(s.sc, in)
	r.emitTransitionEvents(s.sc, newStatus)
	r.Metrics.Observe(s.sc, &newStatus, in.Now)
	if equality.Semantic.DeepEqual(s.sc.Status, newStatus) {
		return nil
	}
	patch := client.MergeFrom(s.sc.DeepCopy())
	s.sc.Status = newStatus
	if err := r.Status().Patch(ctx, s.sc, patch, client.FieldOwner(FieldManager)); err != nil {
		return err
	}
	return nil
}

func (r *SignalingClusterReconciler) emitTransitionEvents(sc *v1alpha1.SignalingCluster, newStatus v1alpha1.SignalingClusterStatus) {
	if r.Recorder == nil {
		return
	}
	type transition struct{ condition, okReason, badReason, action string }
	for _, t := range []transition{
		{v1alpha1.ConditionMediaServiceHealthy, v1alpha1.EventMediaServiceHealthy, v1alpha1.EventMediaServiceUnhealthy, "HealthCheck"},
		{v1alpha1.ConditionRedisReady, v1alpha1.EventRedisReady, v1alpha1.EventRedisNotReady, "Ping"},
	} {
		c := meta.FindStatusCondition(newStatus.Conditions, t.condition)
		if c == nil || c.Status == metav1.ConditionUnknown {
			continue
		}
		if old := meta.FindStatusCondition(sc.Status.Conditions, t.condition); old != nil && old.Status == c.Status {
			continue
		}
		if c.Status == metav1.ConditionTrue {
			r.Recorder.Eventf(sc, nil, corev1.EventTypeNormal, t.okReason, t.action, "%s", c.Message)
		} else {
			r.Recorder.Eventf(sc, nil, corev1.EventTypeWarning, t.badReason, t.action, "%s", c.Message)
		}
	}
	// A failure to apply the owned objects is reported once when it starts, not per retry.
	if c := meta.FindStatusCondition(newStatus.Conditions, v1alpha1.ConditionDegraded); c != nil && c.Reason == v1alpha1.ReasonReconcileError {
		if old := meta.FindStatusCondition(sc.Status.Conditions, v1alpha1.ConditionDegraded); old == nil || old.Reason != v1alpha1.ReasonReconcileError {
			r.Recorder.Eventf(sc, nil, corev1.EventTypeWarning, v1alpha1.EventReconcileError, "Apply", "%s", c.Message)
		}
	}
}
