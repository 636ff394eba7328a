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

// Writes to the API server: create-or-patch of owned objects with only the fields the
// operator owns, and deletion of optional children the spec no longer asks for.

package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// apply creates or patches obj with mutate and sets the controller reference. Only the fields
// mutate sets are compared, so API-server defaults never cause a write.
func (r *SignalingClusterReconciler) apply(ctx context.Context, s *scope, obj client.Object, mutate func()) error {
	return r.applyWith(ctx, s, obj, mutate, controllerutil.CreateOrPatch)
}

// applyLocked is apply for an object whose mutate decides from what it read (the managed
// Redis password: made when absent or when a rotation is asked for). The patch carries the
// resourceVersion read, so a read from a cache that has not yet seen the operator's own
// last write fails with a conflict (the reconcile runs again) instead of acting twice.
func (r *SignalingClusterReconciler) applyLocked(ctx context.Context, s *scope, obj client.Object, mutate func()) error {
	return r.applyWith(ctx, s, obj, mutate, createOrPatchLocked)
}

type writeFunc func(context.Context, client.Client, client.Object, controllerutil.MutateFn) (controllerutil.OperationResult, error)

func (r *SignalingClusterReconciler) applyWith(ctx context.Context, s *scope, obj client.Object, mutate func(), write writeFunc) error {
	res, err := write(ctx, r.Client, obj, func() error {
		mutate()
		return controllerutil.SetControllerReference(s.sc, obj, r.Scheme)
	})
	if err != nil {
		return fmt.Errorf("applying %T %s: %w", obj, obj.GetName(), err)
	}
	if res != controllerutil.OperationResultNone {
		logf.FromContext(ctx).V(1).Info("applied", "kind", fmt.Sprintf("%T", obj), "name", obj.GetName(), "result", res)
	}
	return nil
}

// createOrPatchLocked is controllerutil.CreateOrPatch with an optimistic lock: the patch
// fails with a conflict when the object changed since it was read (and the create with
// AlreadyExists when a cache missed it).
func createOrPatchLocked(ctx context.Context, c client.Client, obj client.Object, f controllerutil.MutateFn) (controllerutil.OperationResult, error) {
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return controllerutil.OperationResultNone, err
		}
		if err := f(); err != nil {
			return controllerutil.OperationResultNone, err
		}
		if err := c.Create(ctx, obj); err != nil {
			return controllerutil.OperationResultNone, err
		}
		return controllerutil.OperationResultCreated, nil
	}
	before := obj.DeepCopyObject().(client.Object)
	if err := f(); err != nil {
		return controllerutil.OperationResultNone, err
	}
	if equality.Semantic.DeepEqual(before, obj) {
		return controllerutil.OperationResultNone, nil
	}
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return controllerutil.OperationResultNone, err
	}
	return controllerutil.OperationResultUpdated, nil
}

// deleteOwned removes an optional child the spec no longer asks for.
func (r *SignalingClusterReconciler) deleteOwned(ctx context.Context, s *scope, obj client.Object) error {
	err := r.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !metav1.IsControlledBy(obj, s.sc) {
		return nil
	}
	if err := r.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}

func mergeStringMaps(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]string{}
	}
	maps.Copy(dst, src)
	return dst
}

// mutateDeployment sets the fields the operator owns on an existing (or new) Deployment.
func mutateDeployment(existing, desired *appsv1.Deployment, createReplicas *int32) {
	existing.Labels = mergeStringMaps(existing.Labels, desired.Labels)
	if existing.CreationTimestamp.IsZero() {
		existing.Spec.Selector = desired.Spec.Selector
		if desired.Spec.Replicas == nil {
			existing.Spec.Replicas = createReplicas
		}
	}
	// With autoscaling desired.Spec.Replicas is nil and the HPA's value is left alone.
	if desired.Spec.Replicas != nil {
		existing.Spec.Replicas = desired.Spec.Replicas
	}
	existing.Spec.Strategy = desired.Spec.Strategy
	existing.Spec.MinReadySeconds = desired.Spec.MinReadySeconds
	existing.Spec.RevisionHistoryLimit = desired.Spec.RevisionHistoryLimit
	existing.Spec.ProgressDeadlineSeconds = desired.Spec.ProgressDeadlineSeconds
	// The template hash catches removed fields; DeepDerivative catches edits by others while
	// ignoring fields the API server defaulted.
	if existing.Spec.Template.Annotations[AnnotationTemplateHash] != desired.Spec.Template.Annotations[AnnotationTemplateHash] ||
		!equality.Semantic.DeepDerivative(desired.Spec.Template, existing.Spec.Template) {
		existing.Spec.Template = desired.Spec.Template
	}
}

func mutateService(existing, desired *corev1.Service) {
	existing.Labels = mergeStringMaps(existing.Labels, desired.Labels)
	for _, k := range strings.Split(existing.Annotations[annotationOwnedServiceAnnotations], ",") {
		if _, keep := desired.Annotations[k]; k != "" && !keep {
			delete(existing.Annotations, k)
		}
	}
	delete(existing.Annotations, annotationOwnedServiceAnnotations)
	if len(desired.Annotations) > 0 {
		existing.Annotations = mergeStringMaps(existing.Annotations, desired.Annotations)
		existing.Annotations[annotationOwnedServiceAnnotations] = strings.Join(slices.Sorted(maps.Keys(desired.Annotations)), ",")
	}
	existing.Spec.Type = desired.Spec.Type
	existing.Spec.Selector = desired.Spec.Selector
	ports := make([]corev1.ServicePort, len(desired.Spec.Ports))
	for i, p := range desired.Spec.Ports {
		if desired.Spec.Type != corev1.ServiceTypeClusterIP {
			for _, e := range existing.Spec.Ports {
				if e.Name == p.Name {
					p.NodePort = e.NodePort // allocated by the API server; keep it
				}
			}
		}
		ports[i] = p
	}
	existing.Spec.Ports = ports
	if desired.Spec.Type == corev1.ServiceTypeClusterIP {
		// Fields only valid for externally reachable Services.
		existing.Spec.ExternalTrafficPolicy = ""
		existing.Spec.AllocateLoadBalancerNodePorts = nil
	}
}
