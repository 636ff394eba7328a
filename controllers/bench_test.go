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
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// BenchmarkConvergence measures, in envtest, how long a SignalingCluster takes from a spec
// change to a status that reflects it, with OPERATOR_BENCH_N (default 500) clusters handled by
// one manager. Run with `make bench-operator`. Phases:
//
//	create:   N clusters created at once; latency = creation → status.observedGeneration set and
//	          RedisReady=True (every child object applied, Redis PINGed once).
//	burst:    every cluster's spec changed at once; latency = update → observedGeneration caught up.
//	single:   50 isolated changes, one at a time, on the converged set.
//	steady:   API writes by the operator during 30 s with nothing changing.
func BenchmarkConvergence(b *testing.B) {
	n := 500
	if s := os.Getenv("OPERATOR_BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for i := 0; i < b.N; i++ {
		runConvergence(b, n)
	}
}

type convergenceWatch struct {
	mu       sync.Mutex
	start    map[string]time.Time
	done     map[string]time.Duration
	wantGen  map[string]int64
	needOK   bool
	finished chan struct{}
	target   int
}

func (c *convergenceWatch) arm(name string, gen int64, at time.Time) {
	c.mu.Lock()
	c.start[name], c.wantGen[name] = at, gen
	c.mu.Unlock()
}

func (c *convergenceWatch) observe(sc *v1alpha1.SignalingCluster, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start, ok := c.start[sc.Name]
	if !ok {
		return
	}
	if _, seen := c.done[sc.Name]; seen || sc.Status.ObservedGeneration < c.wantGen[sc.Name] {
		return
	}
	if c.needOK {
		if cond := meta.FindStatusCondition(sc.Status.Conditions, v1alpha1.ConditionRedisReady); cond == nil || cond.Status != metav1.ConditionTrue {
			return
		}
	}
	c.done[sc.Name] = at.Sub(start)
	if len(c.done) == c.target {
		close(c.finished)
	}
}

func newConvergenceWatch(target int, needOK bool) *convergenceWatch {
	return &convergenceWatch{start: map[string]time.Time{}, done: map[string]time.Duration{}, wantGen: map[string]int64{},
		needOK: needOK, finished: make(chan struct{}), target: target}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	idx := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(idx, len(s)-1))]
}

func (c *convergenceWatch) report(b *testing.B, phase string, wall time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, d := range c.done {
		ds = append(ds, d)
	}
	line := fmt.Sprintf("%-7s n=%d converged=%d wall=%s p50=%s p90=%s p99=%s max=%s", phase, c.target, len(ds),
		wall.Round(time.Millisecond), percentile(ds, .5).Round(time.Millisecond), percentile(ds, .9).Round(time.Millisecond),
		percentile(ds, .99).Round(time.Millisecond), percentile(ds, 1).Round(time.Millisecond))
	fmt.Println(line)
	b.ReportMetric(float64(percentile(ds, .99).Milliseconds()), phase+"-p99-ms")
}

func runConvergence(b *testing.B, n int) {
	ctx := context.Background()
	ns := newNamespace(b)
	redisAddr := startRedis(b, "")
	media := newMediaServer(b)
	createSecret(b, ns, "redis", map[string]string{"password": ""})
	createSecret(b, ns, "jwt", map[string]string{"public.pem": testPEM})

	wc, err := client.NewWithWatch(testCfg, client.Options{Scheme: NewScheme()})
	if err != nil {
		b.Fatal(err)
	}
	w, err := wc.Watch(ctx, &v1alpha1.SignalingClusterList{}, client.InNamespace(ns))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var cur struct {
		sync.Mutex
		cw *convergenceWatch
	}
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Modified && ev.Type != watch.Added {
				continue
			}
			sc, ok := ev.Object.(*v1alpha1.SignalingCluster)
			if !ok {
				continue
			}
			now := time.Now()
			cur.Lock()
			cw := cur.cw
			cur.Unlock()
			if cw != nil {
				cw.observe(sc, now)
			}
		}
	}()
	setPhase := func(cw *convergenceWatch) { cur.Lock(); cur.cw = cw; cur.Unlock() }
	wait := func(cw *convergenceWatch, phase string, start time.Time) {
		select {
		case <-cw.finished:
		case <-time.After(10 * time.Minute):
			b.Fatalf("%s: not converged", phase)
		}
		cw.report(b, phase, time.Since(start))
	}

	tm := startManager(b, ns, testOptions)
	b.ResetTimer()

	// create
	cw := newConvergenceWatch(n, true)
	setPhase(cw)
	start := time.Now()
	names := make([]string, n)
	for i := range n {
		sc := newCluster(ns, fmt.Sprintf("sig-%04d", i), redisAddr, media.URL)
		sc.Spec.MediaService.HealthCheck.Interval = &metav1.Duration{Duration: 10 * time.Second}
		sc.Spec.MediaService.HealthCheck.Timeout = &metav1.Duration{Duration: 2 * time.Second}
		cw.arm(sc.Name, 1, time.Now())
		if err := testClient.Create(ctx, sc); err != nil {
			b.Fatal(err)
		}
		names[i] = sc.Name
	}
	wait(cw, "create", start)

	// burst
	cw = newConvergenceWatch(n, false)
	setPhase(cw)
	start = time.Now()
	for _, name := range names {
		sc := &v1alpha1.SignalingCluster{}
		if err := testClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sc); err != nil {
			b.Fatal(err)
		}
		before := sc.DeepCopy()
		sc.Spec.LogLevel = "debug"
		cw.arm(name, sc.Generation+1, time.Now())
		// A patch: the operator's status writes would make an Update conflict.
		if err := testClient.Patch(ctx, sc, client.MergeFrom(before)); err != nil {
			b.Fatal(err)
		}
	}
	wait(cw, "burst", start)

	// single
	const singles = 50
	cw = newConvergenceWatch(singles, false)
	setPhase(cw)
	start = time.Now()
	for i := range singles {
		name := names[(i*7)%n]
		sc := &v1alpha1.SignalingCluster{}
		if err := testClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sc); err != nil {
			b.Fatal(err)
		}
		before := sc.DeepCopy()
		sc.Spec.LogLevel = "warn"
		cw.arm(name, sc.Generation+1, time.Now())
		// A patch: the operator's status writes would make an Update conflict.
		if err := testClient.Patch(ctx, sc, client.MergeFrom(before)); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			cw.mu.Lock()
			_, ok := cw.done[name]
			cw.mu.Unlock()
			if ok || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait(cw, "single", start)

	// steady
	objBefore, statusBefore := tm.WritesByKind()
	time.Sleep(30 * time.Second)
	objAfter, statusAfter := tm.WritesByKind()
	steady := objAfter - objBefore + statusAfter - statusBefore
	fmt.Printf("steady  n=%d writes-in-30s: objects=%d status=%d\n", n, objAfter-objBefore, statusAfter-statusBefore)
	b.ReportMetric(float64(steady), "steady-writes/30s")
	b.StopTimer()
}
