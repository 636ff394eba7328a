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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// defaultChatBufferTotal mirrors the node's --chat-buffer-total default, for the chat buffer
// bound the alerts compare against when spec.chat.bufferTotal is unset.
const defaultChatBufferTotal = 100000

// ClusterMetrics are per-SignalingCluster gauges on the operator's /metrics, labelled with the
// cluster's namespace and name (label "signalingcluster"). They carry what only the operator
// knows — the verdicts of its conditions, the media gate, drains and configured bounds — so the
// chart's alerts and dashboard can join them with the nodes' own metrics.
type ClusterMetrics struct {
	Ready           *prometheus.GaugeVec
	Replicas        *prometheus.GaugeVec
	ReadyReplicas   *prometheus.GaugeVec
	UpdatedReplicas *prometheus.GaugeVec
	Draining        *prometheus.GaugeVec
	DrainingSince   *prometheus.GaugeVec
	DrainTimeout    *prometheus.GaugeVec
	RedisReady      *prometheus.GaugeVec
	MediaHealthy    *prometheus.GaugeVec
	ChatBufferLimit *prometheus.GaugeVec

	mu sync.Mutex
	// drainingSince remembers when each cluster's draining count last changed to a non-zero value.
	drainingSince map[types.NamespacedName]drainMark
}

type drainMark struct {
	count int32
	since time.Time
}

var clusterLabels = []string{"namespace", "signalingcluster"}

// NewClusterMetrics creates the gauges and registers them on reg.
func NewClusterMetrics(reg prometheus.Registerer) *ClusterMetrics {
	g := func(name, help string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "switchboard", Subsystem: "operator", Name: name, Help: help}, clusterLabels)
		reg.MustRegister(v)
		return v
	}
	return &ClusterMetrics{
		Ready:           g("cluster_ready", "1 while the SignalingCluster's Ready condition is True."),
		Replicas:        g("replicas", "Signaling pods of the cluster (status.replicas)."),
		ReadyReplicas:   g("ready_replicas", "Ready signaling pods of the cluster (status.readyReplicas)."),
		UpdatedReplicas: g("updated_replicas", "Signaling pods running the current template (status.updatedReplicas)."),
		Draining:        g("draining_replicas", "Signaling nodes announcing themselves as draining in Redis (status.drainingReplicas)."),
		DrainingSince:   g("draining_since_timestamp_seconds", "Unix time since when the number of draining nodes has been unchanged and above zero; 0 while none drains."),
		DrainTimeout:    g("drain_timeout_seconds", "The cluster's spec.drain.timeout in seconds."),
		RedisReady:      g("redis_ready", "1 while the RedisReady condition is True."),
		MediaHealthy:    g("media_service_healthy", "1 while the media gate's verdict is healthy, 0 while it is open (SFU off); absent without a media service or verdict."),
		ChatBufferLimit: g("chat_buffer_limit", "The nodes' bound on unsaved chat messages (spec.chat.bufferTotal or the node default)."),
		drainingSince:   map[types.NamespacedName]drainMark{},
	}
}

// Observe records the cluster's freshly computed status.
func (m *ClusterMetrics) Observe(sc *v1alpha1.SignalingCluster, st *v1alpha1.SignalingClusterStatus, now time.Time) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"namespace": sc.Namespace, "signalingcluster": sc.Name}
	bool01 := func(typ string) float64 {
		if meta.IsStatusConditionTrue(st.Conditions, typ) {
			return 1
		}
		return 0
	}
	m.Ready.With(l).Set(bool01(v1alpha1.ConditionReady))
	m.RedisReady.With(l).Set(bool01(v1alpha1.ConditionRedisReady))
	m.Replicas.With(l).Set(float64(st.Replicas))
	m.ReadyReplicas.With(l).Set(float64(st.ReadyReplicas))
	m.UpdatedReplicas.With(l).Set(float64(st.UpdatedReplicas))
	m.Draining.With(l).Set(float64(st.DrainingReplicas))
	m.DrainTimeout.With(l).Set(durationOr(sc.Spec.Drain.Timeout, v1alpha1.DefaultDrainTimeout).Seconds())
	m.ChatBufferLimit.With(l).Set(float64(ptr.Deref(sc.Spec.Chat.BufferTotal, defaultChatBufferTotal)))
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionMediaServiceHealthy); c != nil && c.Status != metav1.ConditionUnknown {
		m.MediaHealthy.With(l).Set(bool01(v1alpha1.ConditionMediaServiceHealthy))
	} else {
		m.MediaHealthy.Delete(l)
	}

	key := types.NamespacedName{Namespace: sc.Namespace, Name: sc.Name}
	m.mu.Lock()
	defer m.mu.Unlock()
	mark := m.drainingSince[key]
	switch {
	case st.DrainingReplicas == 0:
		mark = drainMark{}
	case st.DrainingReplicas != mark.count:
		mark = drainMark{count: st.DrainingReplicas, since: now}
	}
	m.drainingSince[key] = mark
	if mark.since.IsZero() {
		m.DrainingSince.With(l).Set(0)
	} else {
		m.DrainingSince.With(l).Set(float64(mark.since.Unix()))
	}
}

// Forget removes a deleted cluster's series.
func (m *ClusterMetrics) Forget(key types.NamespacedName) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"namespace": key.Namespace, "signalingcluster": key.Name}
	for _, v := range []*prometheus.GaugeVec{m.Ready, m.Replicas, m.ReadyReplicas, m.UpdatedReplicas, m.Draining,
		m.DrainingSince, m.DrainTimeout, m.RedisReady, m.MediaHealthy, m.ChatBufferLimit} {
		v.Delete(l)
	}
	m.mu.Lock()
	delete(m.drainingSince, key)
	m.mu.Unlock()
}
