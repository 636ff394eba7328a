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
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// TestClusterMetricsFollowTheStatus: the per-cluster gauges mirror the status; the drain timer
// starts when the draining count changes to a non-zero value, keeps its start while the count
// stays, and resets at zero; Forget removes every series of a deleted cluster.
func TestClusterMetricsFollowTheStatus(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewClusterMetrics(reg)
	sc := minimalCluster()
	sc.Spec.Chat.BufferTotal = ptr.To[int32](5000)
	sc.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://sfu"}
	t0 := time.Unix(1000, 0)
	st := &v1alpha1.SignalingClusterStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 1, DrainingReplicas: 1,
		Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse},
			{Type: v1alpha1.ConditionRedisReady, Status: metav1.ConditionTrue},
			{Type: v1alpha1.ConditionMediaServiceHealthy, Status: metav1.ConditionFalse},
		}}
	m.Observe(sc, st, t0)
	l := []string{sc.Namespace, sc.Name}
	for name, c := range map[string]struct {
		g    *prometheus.GaugeVec
		want float64
	}{
		"ready": {m.Ready, 0}, "redis": {m.RedisReady, 1}, "media": {m.MediaHealthy, 0},
		"replicas": {m.Replicas, 3}, "readyReplicas": {m.ReadyReplicas, 2}, "updated": {m.UpdatedReplicas, 1},
		"draining": {m.Draining, 1}, "since": {m.DrainingSince, 1000}, "timeout": {m.DrainTimeout, 30},
		"chat limit": {m.ChatBufferLimit, 5000},
	} {
		if got := testutil.ToFloat64(c.g.WithLabelValues(l...)); got != c.want {
			t.Errorf("%s = %v, want %v", name, got, c.want)
		}
	}

	m.Observe(sc, st, t0.Add(time.Minute)) // same count: the drain keeps its start
	if got := testutil.ToFloat64(m.DrainingSince.WithLabelValues(l...)); got != 1000 {
		t.Errorf("draining since moved to %v while the count stayed", got)
	}
	st.DrainingReplicas = 2
	m.Observe(sc, st, t0.Add(2*time.Minute))
	if got := testutil.ToFloat64(m.DrainingSince.WithLabelValues(l...)); got != 1120 {
		t.Errorf("draining since %v after the count changed, want 1120", got)
	}
	st.DrainingReplicas = 0
	m.Observe(sc, st, t0.Add(3*time.Minute))
	if got := testutil.ToFloat64(m.DrainingSince.WithLabelValues(l...)); got != 0 {
		t.Errorf("draining since %v with nothing draining, want 0", got)
	}

	m.Forget(types.NamespacedName{Namespace: sc.Namespace, Name: sc.Name})
	if n := testutil.CollectAndCount(reg); n != 0 {
		t.Errorf("%d series left after Forget", n)
	}
}
