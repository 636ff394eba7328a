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

// NetworkPolicies (manager flag --network-policies): the signaling pods accept traffic only on
// the client port and the node's metrics port; the managed Redis accepts it only from the
// cluster's own signaling pods and from the operator (whose PING is RedisReady's evidence).

package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// signalingMetricsPort is the node's own metrics listener (--metrics-listen, default :9090).
const signalingMetricsPort = 9090

// NetworkPolicyOptions configure the rendered NetworkPolicies.
type NetworkPolicyOptions struct {
	// Enabled renders the policies; off, the operator removes the ones it created.
	Enabled bool
	// OperatorNamespace and OperatorPodLabels select the operator's pods for the Redis policy;
	// without labels only the signaling pods may reach the managed Redis.
	OperatorNamespace string
	OperatorPodLabels map[string]string
}

// ParseLabels parses "k=v,k2=v2" (the --operator-pod-labels flag).
func ParseLabels(list string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(list, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

func tcpPort(p int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(p))}
}

// desiredSignalingNetworkPolicy admits any source, but only on the client and metrics ports.
func desiredSignalingNetworkPolicy(sc *v1alpha1.SignalingCluster) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: objectMeta(sc, signalingName(sc), componentSignaling),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(sc, componentSignaling)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{tcpPort(signalingPort), tcpPort(signalingMetricsPort)},
			}},
		},
	}
}

// desiredRedisNetworkPolicy admits the cluster's signaling pods and the operator to Redis.
func desiredRedisNetworkPolicy(sc *v1alpha1.SignalingCluster, o NetworkPolicyOptions) *networkingv1.NetworkPolicy {
	from := []networkingv1.NetworkPolicyPeer{{
		PodSelector: &metav1.LabelSelector{MatchLabels: selectorLabels(sc, componentSignaling)},
	}}
	if len(o.OperatorPodLabels) > 0 {
		peer := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: o.OperatorPodLabels}}
		if o.OperatorNamespace != "" && o.OperatorNamespace != sc.Namespace {
			peer.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{
				"kubernetes.io/metadata.name": o.OperatorNamespace,
			}}
		}
		from = append(from, peer)
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: objectMeta(sc, redisName(sc), componentRedis),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(sc, componentRedis)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  from,
				Ports: []networkingv1.NetworkPolicyPort{tcpPort(redisPort)},
			}},
		},
	}
}

// reconcileNetworkPolicies applies (or removes) the signaling and managed-Redis policies.
func (r *SignalingClusterReconciler) reconcileNetworkPolicies(ctx context.Context, s *scope) error {
	o := r.Options.NetworkPolicies
	apply := func(name string, desired *networkingv1.NetworkPolicy) error {
		np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.sc.Namespace}}
		if desired == nil {
			return r.deleteOwned(ctx, s, np)
		}
		return r.apply(ctx, s, np, func() {
			np.Labels = mergeStringMaps(np.Labels, desired.Labels)
			np.Spec = desired.Spec
		})
	}
	var sig, red *networkingv1.NetworkPolicy
	if o.Enabled {
		sig = desiredSignalingNetworkPolicy(s.sc)
		if s.sc.Spec.Redis.Managed {
			red = desiredRedisNetworkPolicy(s.sc, o)
		}
	}
	return errors.Join(apply(signalingName(s.sc), sig), apply(redisName(s.sc), red))
}
