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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// A referenced Secret without the opt-in label is neither cached nor read: the cluster says so
// in RedisReady and Degraded, and labelling the Secret is enough to recover.
func TestUnlabelledSecretIsNotReadAndSaysSo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	redisAddr := startRedis(t, "pw")
	createSecretLabelled(t, ns, "redis", map[string]string{"password": "pw"}, nil)
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})
	createSecretLabelled(t, ns, "bystander", map[string]string{"token": "not for the operator"}, map[string]string{"team": "x"})
	tm := startManager(t, ns, testOptions)
	sc := newCluster(ns, "sig", redisAddr, "")
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)
	sc = waitCondition(t, key, v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonSecretNotLabelled)
	if c := meta.FindStatusCondition(sc.Status.Conditions, v1alpha1.ConditionRedisReady); !strings.Contains(c.Message, v1alpha1.LabelSecretUse) {
		t.Errorf("RedisReady message %q does not name the label", c.Message)
	}
	waitCondition(t, key, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonSecretNotLabelled)

	// The operator's memory holds the labelled Secret only.
	var cached corev1.SecretList
	if err := tm.Cache.List(ctx, &cached, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range cached.Items {
		names = append(names, s.Name)
	}
	if len(names) != 1 || names[0] != "jwt" {
		t.Errorf("cached Secrets %v, want only the labelled [jwt]", names)
	}

	// Opting the Secret in is enough: the watch sees it and Redis becomes ready.
	s := &corev1.Secret{}
	if err := testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "redis"}, s); err != nil {
		t.Fatal(err)
	}
	s.Labels = map[string]string{v1alpha1.LabelSecretUse: v1alpha1.LabelSecretUseValue}
	if err := testClient.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, key, v1alpha1.ConditionRedisReady, metav1.ConditionTrue, v1alpha1.ReasonRedisPingSucceeded)
	eventually(t, 30*time.Second, "Degraded to clear", func() error {
		return conditionIs(getCluster(t, key), v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	})
}
