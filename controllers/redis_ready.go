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
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// setManagedRedisReady decides RedisReady for the managed Redis from what can actually be
// verified about the path the nodes use, its Service name:
//   - the operator's own PING through that name, when the operator runs where the name
//     resolves (inside the cluster network): RedisPingSucceeded;
//   - otherwise the signaling pods' readiness, since a node is Ready only while its Redis
//     bus works: RedisNodesReady, or RedisNodesNotReady when no pod is Ready.
//
// The Redis Deployment having an available pod proves neither (a Service, a
// NetworkPolicy or the password can still stand in the way), so it never makes the
// condition True; it only adds detail to the message.
func setManagedRedisReady(st *v1alpha1.SignalingClusterStatus, sc *v1alpha1.SignalingCluster, in statusInputs) {
	addr := redisAddresses(sc)[0]
	var ping *RedisCheck
	if in.Snapshot != nil {
		ping = in.Snapshot.Redis
	}
	if ping != nil && ping.OK {
		setCondition(st, sc, in.Now, v1alpha1.ConditionRedisReady, metav1.ConditionTrue, v1alpha1.ReasonRedisPingSucceeded,
			fmt.Sprintf("the operator's PING through %s, the address the nodes use, answered", addr))
		return
	}
	pingState := "has not completed yet"
	if ping != nil {
		pingState = "failed (" + ping.Message + ")"
	}
	ready, desired := int32(0), int32(0)
	if d := in.Deployment; d != nil {
		ready, desired = d.Status.ReadyReplicas, ptr.Deref(d.Spec.Replicas, 1)
	}
	if ready > 0 {
		setCondition(st, sc, in.Now, v1alpha1.ConditionRedisReady, metav1.ConditionTrue, v1alpha1.ReasonRedisNodesReady,
			fmt.Sprintf("%d of %d signaling pods are Ready, which a node is only while it reaches Redis at %s; the operator's own PING %s",
				ready, desired, addr, pingState))
		return
	}
	msg := fmt.Sprintf("no signaling pod is Ready (a node is Ready only while it reaches Redis at %s) and the operator's own PING %s", addr, pingState)
	if rd := in.RedisDeployment; rd == nil || rd.Status.AvailableReplicas == 0 {
		msg += "; the managed Redis Deployment has no available pod"
	}
	setCondition(st, sc, in.Now, v1alpha1.ConditionRedisReady, metav1.ConditionFalse, v1alpha1.ReasonRedisNodesNotReady, msg)
}
