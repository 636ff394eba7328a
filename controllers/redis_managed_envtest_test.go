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
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// The managed Redis' password is generated once, survives reconciles, and changes only when
// the rotate-redis-password annotation changes; a rotation restarts Redis and rolls the nodes.
func TestManagedRedisPasswordIsGeneratedKeptAndRotatedOnRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})
	opts := testOptions
	opts.NetworkPolicies = NetworkPolicyOptions{Enabled: true, OperatorNamespace: "switchboard-system",
		OperatorPodLabels: map[string]string{"app.kubernetes.io/name": "switchboard-operator"}}
	startManager(t, ns, opts, serviceDNS(map[string]string{"sig-redis." + ns + ".svc:6379": closedAddr(t)}))
	sc := newCluster(ns, "sig", "", "")
	sc.Spec.Redis = v1alpha1.RedisSpec{Managed: true, ManagedInstance: &v1alpha1.ManagedRedisSpec{
		Persistence: &v1alpha1.ManagedRedisPersistence{}}}
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sc)
	authKey := types.NamespacedName{Namespace: ns, Name: "sig-redis-auth"}
	redisKey := types.NamespacedName{Namespace: ns, Name: "sig-redis"}

	type snapshot struct{ password, redisHash, nodesHash string }
	observe := func() (snapshot, error) {
		secret, redisDep, dep := &corev1.Secret{}, &appsv1.Deployment{}, &appsv1.Deployment{}
		if err := errorsJoin(testClient.Get(ctx, authKey, secret), testClient.Get(ctx, redisKey, redisDep), testClient.Get(ctx, key, dep)); err != nil {
			return snapshot{}, err
		}
		return snapshot{string(secret.Data["password"]), redisDep.Spec.Template.Annotations[AnnotationConfigHash],
			dep.Spec.Template.Annotations[AnnotationConfigHash]}, nil
	}
	var first snapshot
	eventually(t, 30*time.Second, "the managed Redis, its Secret and the Deployment", func() (err error) {
		first, err = observe()
		return err
	})
	if len(first.password) != 64 {
		t.Errorf("generated password has %d characters, want 64", len(first.password))
	}

	sc = getCluster(t, key)
	secret := &corev1.Secret{}
	if err := testClient.Get(ctx, authKey, secret); err != nil {
		t.Fatal(err)
	}
	assertControlledBy(t, secret, sc)
	if secret.Labels[v1alpha1.LabelSecretUse] != "true" {
		t.Errorf("the managed Secret is not opted in: %v", secret.Labels)
	}
	conf := string(secret.Data["redis.conf"])
	for _, want := range []string{"protected-mode yes", fmt.Sprintf("requirepass %q", first.password), "appendonly yes"} {
		if !strings.Contains(conf, want) {
			t.Errorf("redis.conf lacks %q:\n%s", want, conf)
		}
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "sig-redis-data"}, pvc); err != nil {
		t.Fatal(err)
	}
	assertControlledBy(t, pvc, sc)
	// The NetworkPolicies are the reconcile's last step: wait for them too.
	for _, name := range []string{"sig", "sig-redis"} {
		np := &networkingv1.NetworkPolicy{}
		eventually(t, 30*time.Second, "NetworkPolicy "+name, func() error {
			return testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, np)
		})
		assertControlledBy(t, np, sc)
	}

	// Unrelated spec changes and reconciles keep the password.
	updateCluster(t, key, func(sc *v1alpha1.SignalingCluster) { sc.Spec.Replicas = ptr.To[int32](3) })
	eventually(t, 30*time.Second, "replicas 3", func() error {
		d := &appsv1.Deployment{}
		if err := testClient.Get(ctx, key, d); err != nil {
			return err
		}
		if ptr.Deref(d.Spec.Replicas, 0) != 3 {
			return fmt.Errorf("replicas %d", ptr.Deref(d.Spec.Replicas, 0))
		}
		return nil
	})
	if now, err := observe(); err != nil || now != first {
		t.Errorf("after a reconcile: %+v (%v), want unchanged %+v", now, err, first)
	}

	// Asking for a rotation changes the password, restarts Redis and rolls the nodes.
	updateCluster(t, key, func(sc *v1alpha1.SignalingCluster) {
		sc.Annotations = map[string]string{v1alpha1.AnnotationRotateRedisPassword: "2026-12-05T12:00:00Z"}
	})
	var rotated snapshot
	eventually(t, 30*time.Second, "a rotated password", func() (err error) {
		if rotated, err = observe(); err != nil {
			return err
		}
		if rotated.password == first.password || rotated.redisHash == first.redisHash || rotated.nodesHash == first.nodesHash {
			return fmt.Errorf("not rotated yet: %+v", rotated)
		}
		return nil
	})
	// The same request value does not rotate again.
	updateCluster(t, key, func(sc *v1alpha1.SignalingCluster) { sc.Spec.Replicas = ptr.To[int32](2) })
	eventually(t, 30*time.Second, "replicas 2", func() error {
		d := &appsv1.Deployment{}
		if err := testClient.Get(ctx, key, d); err != nil {
			return err
		}
		if ptr.Deref(d.Spec.Replicas, 0) != 2 {
			return fmt.Errorf("replicas %d", ptr.Deref(d.Spec.Replicas, 0))
		}
		return nil
	})
	if now, err := observe(); err != nil || now != rotated {
		t.Errorf("after a second reconcile: %+v (%v), want %+v", now, err, rotated)
	}
}

// staleSecret is a client whose reads of one Secret return an old copy: the operator's
// informer cache before it has seen the operator's own last write.
type staleSecret struct {
	client.Client
	key   types.NamespacedName
	stale *corev1.Secret
}

func (c staleSecret) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if s, ok := obj.(*corev1.Secret); ok && key == c.key {
		c.stale.DeepCopyInto(s)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// A reconcile that reads the managed Secret from a cache still behind the rotation it
// just wrote must not rotate again (the nodes and Redis would restart twice): its write
// fails with a conflict and the next reconcile reads the rotated password. Before, the
// patch carried no resourceVersion and a second password replaced the first.
func TestManagedRedisPasswordRotatesOnceWhenTheCacheIsBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	sc := newCluster(ns, "sig", "", "")
	sc.Spec.Redis = v1alpha1.RedisSpec{Managed: true}
	if err := testClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	authKey := types.NamespacedName{Namespace: ns, Name: "sig-redis-auth"}
	password := func() string {
		secret := &corev1.Secret{}
		if err := testClient.Get(ctx, authKey, secret); err != nil {
			t.Fatal(err)
		}
		return string(secret.Data["password"])
	}
	reconcileAuth := func(c client.Client) error {
		r := &SignalingClusterReconciler{Client: c, Scheme: testClient.Scheme()}
		return r.ensureManagedRedisAuth(ctx, &scope{sc: sc, secretValues: map[string][]byte{}})
	}

	if err := reconcileAuth(testClient); err != nil {
		t.Fatal(err)
	}
	before := &corev1.Secret{}
	if err := testClient.Get(ctx, authKey, before); err != nil {
		t.Fatal(err)
	}
	sc.Annotations = map[string]string{v1alpha1.AnnotationRotateRedisPassword: "2026-12-06T09:00:00Z"}
	if err := reconcileAuth(testClient); err != nil {
		t.Fatal(err)
	}
	rotated := password()
	if rotated == string(before.Data["password"]) {
		t.Fatal("the rotation did not change the password")
	}

	err := reconcileAuth(staleSecret{Client: testClient, key: authKey, stale: before})
	if !apierrors.IsConflict(err) {
		t.Fatalf("a reconcile on a stale read returned %v, want a conflict", err)
	}
	if now := password(); now != rotated {
		t.Fatal("a reconcile on a stale read rotated the password a second time")
	}
	if err := reconcileAuth(testClient); err != nil {
		t.Fatal(err)
	}
	if now := password(); now != rotated {
		t.Fatal("the next reconcile changed the rotated password")
	}
}
