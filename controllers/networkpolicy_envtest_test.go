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
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// The NetworkPolicies as the API server stores them select the pods of the Deployments the
// operator wrote (and no other cluster's), admit on exactly the ports those pods listen on, let
// only the cluster's own signaling pods and the operator's pods reach the managed Redis, and are
// removed when the manager runs without --network-policies. (Whether traffic is dropped is the
// CNI's part: neither envtest nor the one-node test cluster enforces NetworkPolicies.)
func TestNetworkPoliciesSelectTheClustersPodsAndAreRemovedWhenSwitchedOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, redisAddr := newWiredNamespace(t, "pw")
	operatorLabels := map[string]string{"app.kubernetes.io/name": "switchboard", "app.kubernetes.io/instance": "op"}
	opts := testOptions
	opts.NetworkPolicies = NetworkPolicyOptions{Enabled: true, OperatorNamespace: "switchboard-system", OperatorPodLabels: operatorLabels}
	tm := startManager(t, ns, opts, serviceDNS(map[string]string{"sig-redis." + ns + ".svc:6379": closedAddr(t)}))

	managed := newCluster(ns, "sig", "", "")
	managed.Spec.Redis = v1alpha1.RedisSpec{Managed: true}
	external := newCluster(ns, "ext", redisAddr, "")
	for _, sc := range []*v1alpha1.SignalingCluster{managed, external} {
		if err := testClient.Create(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	get := func(name string, obj client.Object) error {
		return testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj)
	}
	sigDep, redisDep, extDep := &appsv1.Deployment{}, &appsv1.Deployment{}, &appsv1.Deployment{}
	sigNP, redisNP, extNP := &networkingv1.NetworkPolicy{}, &networkingv1.NetworkPolicy{}, &networkingv1.NetworkPolicy{}
	eventually(t, 30*time.Second, "the Deployments and NetworkPolicies", func() error {
		return errorsJoin(get("sig", sigDep), get("sig-redis", redisDep), get("ext", extDep),
			get("sig", sigNP), get("sig-redis", redisNP), get("ext", extNP))
	})
	if err := get("ext-redis", &networkingv1.NetworkPolicy{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Redis NetworkPolicy for a cluster on an external Redis (err %v)", err)
	}

	sigPods := labels.Set(sigDep.Spec.Template.Labels)
	redisPods := labels.Set(redisDep.Spec.Template.Labels)
	extPods := labels.Set(extDep.Spec.Template.Labels)
	operatorPods := labels.Set(operatorLabels)
	selects := func(sel *metav1.LabelSelector, pods labels.Set) bool {
		t.Helper()
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		return s.Matches(pods)
	}

	// The signaling policy: any source, the pods' own ports.
	if !selects(&sigNP.Spec.PodSelector, sigPods) || selects(&sigNP.Spec.PodSelector, redisPods) || selects(&sigNP.Spec.PodSelector, extPods) {
		t.Errorf("signaling policy selector %v: want exactly cluster sig's signaling pods", sigNP.Spec.PodSelector)
	}
	if len(sigNP.Spec.Ingress) != 1 || len(sigNP.Spec.Ingress[0].From) != 0 {
		t.Errorf("signaling ingress %+v: want one rule open to any source", sigNP.Spec.Ingress)
	} else if got, want := policyPorts(sigNP.Spec.Ingress[0].Ports), containerPorts(sigDep); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("signaling policy admits %v, the signaling container listens on %v", got, want)
	}

	// The Redis policy: only the Redis pod, reached from sig's signaling pods and the operator.
	if !selects(&redisNP.Spec.PodSelector, redisPods) || selects(&redisNP.Spec.PodSelector, sigPods) {
		t.Errorf("Redis policy selector %v: want exactly the managed Redis pod", redisNP.Spec.PodSelector)
	}
	if len(redisNP.Spec.Ingress) != 1 {
		t.Fatalf("Redis ingress %+v: want one rule", redisNP.Spec.Ingress)
	}
	rule := redisNP.Spec.Ingress[0]
	if got, want := policyPorts(rule.Ports), containerPorts(redisDep); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Redis policy admits %v, the Redis container listens on %v", got, want)
	}
	thisNS, operatorNS := &corev1.Namespace{}, labels.Set{"kubernetes.io/metadata.name": "switchboard-system"}
	if err := testClient.Get(ctx, types.NamespacedName{Name: ns}, thisNS); err != nil {
		t.Fatal(err)
	}
	admits := func(podLabels, nsLabels labels.Set) bool {
		for _, peer := range rule.From {
			inNS := peer.NamespaceSelector == nil && nsLabels.Get("kubernetes.io/metadata.name") == ns ||
				peer.NamespaceSelector != nil && selects(peer.NamespaceSelector, nsLabels)
			if inNS && peer.PodSelector != nil && selects(peer.PodSelector, podLabels) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		who         string
		pod, podsNS labels.Set
		want        bool
	}{
		{"sig's signaling pods", sigPods, thisNS.Labels, true},
		{"the operator's pods in the operator namespace", operatorPods, operatorNS, true},
		{"pods with the operator's labels in the cluster's namespace", operatorPods, thisNS.Labels, false},
		{"another cluster's signaling pods", extPods, thisNS.Labels, false},
		{"the Redis pod itself", redisPods, thisNS.Labels, false},
	} {
		if got := admits(c.pod, c.podsNS); got != c.want {
			t.Errorf("Redis policy admits %s: %v, want %v (peers %+v)", c.who, got, c.want, rule.From)
		}
	}
	for _, np := range []*networkingv1.NetworkPolicy{sigNP, redisNP} {
		assertControlledBy(t, np, getCluster(t, client.ObjectKeyFromObject(managed)))
	}

	// Without --network-policies the operator removes what it created and nothing else.
	tm.stop()
	opts.NetworkPolicies = NetworkPolicyOptions{}
	startManager(t, ns, opts, serviceDNS(map[string]string{"sig-redis." + ns + ".svc:6379": closedAddr(t)}))
	eventually(t, 30*time.Second, "the NetworkPolicies to be removed", func() error {
		for _, name := range []string{"sig", "sig-redis", "ext"} {
			if err := get(name, &networkingv1.NetworkPolicy{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("NetworkPolicy %s still there (err %v)", name, err)
			}
		}
		return nil
	})
	if err := errorsJoin(get("sig", &appsv1.Deployment{}), get("sig-redis", &appsv1.Deployment{})); err != nil {
		t.Errorf("switching policies off removed more than the policies: %v", err)
	}
}

func policyPorts(ports []networkingv1.NetworkPolicyPort) []string {
	var out []string
	for _, p := range ports {
		out = append(out, fmt.Sprintf("%s/%s", *p.Protocol, p.Port.String()))
	}
	sort.Strings(out)
	return out
}

func containerPorts(d *appsv1.Deployment) []string {
	var out []string
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		out = append(out, fmt.Sprintf("%s/%d", p.Protocol, p.ContainerPort))
	}
	sort.Strings(out)
	return out
}
