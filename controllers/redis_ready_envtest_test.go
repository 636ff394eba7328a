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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// serviceDNS stands in for the cluster DNS the operator would use inside a cluster: it
// sends the monitor's PINGs for the listed Service addresses to loopback ones.
func serviceDNS(resolve map[string]string) func(*Monitor) {
	return func(m *Monitor) {
		dial := m.Dial
		m.Dial = func(cfg RedisConfig) RedisConn {
			addrs := make([]string, len(cfg.Addrs))
			for i, a := range cfg.Addrs {
				if to, ok := resolve[a]; ok {
					a = to
				}
				addrs[i] = a
			}
			cfg.Addrs = addrs
			return dial(cfg)
		}
	}
}

// closedAddr is a loopback address nothing listens on (connections are refused).
func closedAddr(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }

// setDeploymentStatus writes what the Deployment controller (absent in envtest) would.
func setDeploymentStatus(t *testing.T, key types.NamespacedName, replicas, ready int32) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := &appsv1.Deployment{}
		if err := testClient.Get(context.Background(), key, d); err != nil {
			return err
		}
		d.Status.Replicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = replicas, ready, ready
		return testClient.Status().Update(context.Background(), d)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestManagedRedisReadyFollowsThePathTheNodesUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	createSecret(t, ns, "jwt", map[string]string{"public.pem": testPEM})
	// "inside" brings its own password (copied into the managed Redis' Secret).
	createSecret(t, ns, "inside-pw", map[string]string{"password": "pw"})
	redisAddr := startRedis(t, "pw")
	// "outside" runs as an operator outside the cluster network would: its PING through the
	// Service name fails. "inside" reaches its Service name.
	startManager(t, ns, testOptions, serviceDNS(map[string]string{
		"outside-redis." + ns + ".svc:6379": closedAddr(t),
		"inside-redis." + ns + ".svc:6379":  redisAddr,
	}))
	clusters := map[string]*v1alpha1.SignalingCluster{}
	for _, name := range []string{"outside", "inside"} {
		sc := newCluster(ns, name, "", "")
		sc.Spec.Redis = v1alpha1.RedisSpec{Managed: true}
		if name == "inside" {
			sc.Spec.Redis.PasswordSecretRef = &v1alpha1.SecretKeyRef{Name: "inside-pw", Key: "password"}
		}
		if err := testClient.Create(ctx, sc); err != nil {
			t.Fatal(err)
		}
		clusters[name] = sc
	}
	outside := client.ObjectKeyFromObject(clusters["outside"])
	eventually(t, 30*time.Second, "the Deployments", func() error {
		return errorsJoin(testClient.Get(ctx, outside, &appsv1.Deployment{}),
			testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "outside-redis"}, &appsv1.Deployment{}))
	})

	// The managed Redis pod is available, but the signaling pod that should use it is not
	// Ready: that alone must not make Redis ready, and the cluster is degraded.
	setDeploymentStatus(t, types.NamespacedName{Namespace: ns, Name: "outside-redis"}, 1, 1)
	setDeploymentStatus(t, outside, 1, 0)
	sc := waitCondition(t, outside, v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonRedisNodesNotReady)
	if c := meta.FindStatusCondition(sc.Status.Conditions, v1alpha1.ConditionRedisReady); !strings.Contains(c.Message, "outside-redis."+ns+".svc:6379") {
		t.Errorf("RedisReady message %q does not name the address the nodes use", c.Message)
	}
	waitCondition(t, outside, v1alpha1.ConditionDegraded, metav1.ConditionTrue, "Redis"+v1alpha1.ReasonRedisNodesNotReady)

	// A signaling pod becomes Ready, which it is only while it reaches Redis.
	setDeploymentStatus(t, outside, 1, 1)
	waitCondition(t, outside, v1alpha1.ConditionRedisReady, metav1.ConditionTrue, v1alpha1.ReasonRedisNodesReady)
	waitCondition(t, outside, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)

	// Where the operator reaches the Service name, its PING decides, pods Ready or not.
	waitCondition(t, client.ObjectKeyFromObject(clusters["inside"]), v1alpha1.ConditionRedisReady, metav1.ConditionTrue, v1alpha1.ReasonRedisPingSucceeded)
}
