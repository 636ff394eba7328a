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

// Secret access: the operator holds only opted-in Secrets. Its cache lists and watches Secrets
// with the label signaling.switchboard.dev/use=true and nothing else; a referenced Secret
// without the label is looked at through its metadata only, to tell the user why it is ignored.

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// secretCacheSelector restricts the manager's Secret cache (and with it the Secret watch) to
// opted-in Secrets.
func secretCacheSelector() cache.ByObject {
	return cache.ByObject{Label: labels.SelectorFromSet(labels.Set{v1alpha1.LabelSecretUse: v1alpha1.LabelSecretUseValue})}
}

// secretAccess is what reading a referenced Secret found.
type secretAccess int

const (
	secretReadable secretAccess = iota
	secretMissing
	secretNotLabelled
)

// readSecret returns a referenced Secret when it is opted in. Otherwise it says whether the
// Secret is missing or only lacks the label; for that it reads the Secret's metadata straight
// from the API server, never its data.
func (r *SignalingClusterReconciler) readSecret(ctx context.Context, ns, name string) (*corev1.Secret, secretAccess, error) {
	key := types.NamespacedName{Namespace: ns, Name: name}
	secret := &corev1.Secret{}
	err := r.Get(ctx, key, secret)
	if err == nil {
		return secret, secretReadable, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, secretMissing, fmt.Errorf("reading Secret %s: %w", name, err)
	}
	if r.APIReader == nil {
		return nil, secretMissing, nil
	}
	md := &metav1.PartialObjectMetadata{}
	md.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	switch err := r.APIReader.Get(ctx, key, md); {
	case apierrors.IsNotFound(err):
		return nil, secretMissing, nil
	case err != nil:
		return nil, secretMissing, fmt.Errorf("reading the metadata of Secret %s: %w", name, err)
	case md.Labels[v1alpha1.LabelSecretUse] != v1alpha1.LabelSecretUseValue:
		return nil, secretNotLabelled, nil
	default:
		// Labelled a moment ago: the cache has not seen it yet; the watch will bring it.
		return nil, secretMissing, nil
	}
}
