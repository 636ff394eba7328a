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
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// With --allowed-image-prefixes, an image outside them is refused (Degraded + Event, no
// Deployment); an allowed image is applied.
func TestImageOutsideAllowedPrefixesIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, redisAddr := newWiredNamespace(t, "pw")
	opts := testOptions
	opts.AllowedImagePrefixes = []string{"registry.example.test/switchboard/"}
	startManager(t, ns, opts)

	sc := newCluster(ns, "sig", redisAddr, "")
	sc.Spec.Image = "evil.example.test/miner:latest"
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)
	waitCondition(t, key, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonImageNotAllowed)
	waitEvent(t, ns, "sig", v1alpha1.EventImageNotAllowed, corev1.EventTypeWarning)
	if err := testClient.Get(ctx, key, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Deployment exists for a refused image (err %v)", err)
	}

	updateCluster(t, key, func(sc *v1alpha1.SignalingCluster) { sc.Spec.Image = "registry.example.test/switchboard/signaling:v2" })
	dep := &appsv1.Deployment{}
	eventually(t, 30*time.Second, "the Deployment with the allowed image", func() error {
		return testClient.Get(ctx, key, dep)
	})
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "registry.example.test/switchboard/signaling:v2" {
		t.Errorf("image %q", got)
	}
	eventually(t, 30*time.Second, "Degraded to clear", func() error {
		return conditionIs(getCluster(t, key), v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	})
}
