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
	"reflect"
	"testing"
)

func TestNetworkPoliciesAdmitOnlyTheExpectedPeersAndPorts(t *testing.T) {
	sc := managedCluster()
	sig := desiredSignalingNetworkPolicy(sc)
	if len(sig.Spec.Ingress) != 1 || len(sig.Spec.Ingress[0].From) != 0 {
		t.Fatalf("signaling ingress %+v", sig.Spec.Ingress)
	}
	var ports []int
	for _, p := range sig.Spec.Ingress[0].Ports {
		ports = append(ports, p.Port.IntValue())
	}
	if !reflect.DeepEqual(ports, []int{8080, 9090}) {
		t.Errorf("signaling ports %v, want client 8080 and metrics 9090", ports)
	}
	if !reflect.DeepEqual(sig.Spec.PodSelector.MatchLabels, selectorLabels(sc, componentSignaling)) {
		t.Errorf("signaling selector %v", sig.Spec.PodSelector)
	}

	labels, err := ParseLabels("app.kubernetes.io/name=switchboard, app.kubernetes.io/instance=op")
	if err != nil {
		t.Fatal(err)
	}
	red := desiredRedisNetworkPolicy(sc, NetworkPolicyOptions{Enabled: true, OperatorNamespace: "switchboard-system", OperatorPodLabels: labels})
	from := red.Spec.Ingress[0].From
	if len(from) != 2 || !reflect.DeepEqual(from[0].PodSelector.MatchLabels, selectorLabels(sc, componentSignaling)) || from[0].NamespaceSelector != nil {
		t.Fatalf("redis peers %+v: want the cluster's signaling pods first", from)
	}
	if !reflect.DeepEqual(from[1].PodSelector.MatchLabels, labels) ||
		from[1].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "switchboard-system" {
		t.Errorf("operator peer %+v", from[1])
	}
	if p := red.Spec.Ingress[0].Ports; len(p) != 1 || p[0].Port.IntValue() != 6379 {
		t.Errorf("redis ports %+v", p)
	}
	if only := desiredRedisNetworkPolicy(sc, NetworkPolicyOptions{Enabled: true}); len(only.Spec.Ingress[0].From) != 1 {
		t.Errorf("without operator labels only the signaling pods may reach Redis: %+v", only.Spec.Ingress[0].From)
	}
	if _, err := ParseLabels("novalue"); err == nil {
		t.Error("a label without = was accepted")
	}
}
