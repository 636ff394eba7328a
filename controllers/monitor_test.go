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
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

type fakeProber struct {
	mu  sync.Mutex
	err error
}

func (f *fakeProber) set(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }
func (f *fakeProber) Probe(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

type published struct {
	v        MediaVerdict
	ttl      time.Duration
	announce bool
}

type fakeConn struct {
	mu      sync.Mutex
	pingErr error
	pubs    []published
}

func (f *fakeConn) Ping(context.Context) error { return f.pingErr }
func (f *fakeConn) PublishMediaVerdict(_ context.Context, v MediaVerdict, ttl time.Duration, announce bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pubs = append(f.pubs, published{v, ttl, announce})
	return nil
}
func (f *fakeConn) CountDraining(context.Context) (int32, error) { return 2, nil }
func (f *fakeConn) Close() error                                 { return nil }

// TestMonitorThresholdsAndAnnouncements drives tick directly: the verdict flips only after the
// configured number of consecutive results, the key is refreshed on every probe, and the
// control channel only hears about transitions (and the first verdict).
func TestMonitorThresholdsAndAnnouncements(t *testing.T) {
	prober := &fakeProber{}
	conn := &fakeConn{}
	m := &Monitor{Prober: prober, Dial: func(RedisConfig) RedisConn { return conn }, Now: time.Now}
	m.init()
	key := types.NamespacedName{Namespace: "ns", Name: "sig"}
	tgt := &monitorTarget{key: key, cfg: MonitorConfig{Interval: 5 * time.Second, Redis: &RedisConfig{},
		Media: &MediaCheckConfig{URL: "http://x/health", Timeout: time.Second, FailureThreshold: 3, SuccessThreshold: 2}}}
	tgt.snap.Media = &MediaHealth{}
	m.targets[key] = tgt
	ctx := context.Background()

	verdict := func() *bool {
		tgt.mu.Lock()
		defer tgt.mu.Unlock()
		return tgt.snap.Media.Verdict
	}
	step := func(err error) {
		prober.set(err)
		m.tick(ctx, tgt, conn, tgt.cfg.Interval)
	}

	step(nil)
	if verdict() != nil {
		t.Fatal("verdict after 1 of 2 required successes")
	}
	step(nil)
	if v := verdict(); v == nil || !*v {
		t.Fatal("not healthy after 2 successes")
	}
	step(errors.New("GET x: status 503"))
	step(errors.New("GET x: status 503"))
	if v := verdict(); !*v {
		t.Fatal("unhealthy before the failure threshold")
	}
	step(errors.New("GET x: status 503"))
	if v := verdict(); *v {
		t.Fatal("still healthy after 3 failures")
	}
	step(nil)
	if v := verdict(); *v {
		t.Fatal("healthy after 1 of 2 successes")
	}

	conn.mu.Lock()
	defer conn.mu.Unlock()
	// Published from the first verdict on: probes 2..6.
	if len(conn.pubs) != 5 {
		t.Fatalf("%d publishes, want 5", len(conn.pubs))
	}
	wantAnnounce := []bool{true, false, false, true, false}
	for i, p := range conn.pubs {
		if p.announce != wantAnnounce[i] {
			t.Errorf("publish %d announce=%v, want %v", i, p.announce, wantAnnounce[i])
		}
		if p.ttl != 30*time.Second {
			t.Errorf("TTL %s, want the 30s minimum for a 5s interval", p.ttl)
		}
		if p.v.Cluster != "ns/sig" {
			t.Errorf("cluster %q", p.v.Cluster)
		}
	}
	if p := conn.pubs[3]; p.v.Healthy || p.v.Reason != "GET x: status 503 (3 consecutive failures)" {
		t.Errorf("unhealthy verdict %+v", p.v)
	}
	snap, _ := m.Snapshot(key)
	if !snap.DrainingKnown || snap.Draining != 2 || !snap.Redis.OK {
		t.Errorf("snapshot %+v", snap)
	}
	if verdictTTL(20*time.Second) != time.Minute {
		t.Error("TTL is not 3x the interval above the minimum")
	}
}

// The monitor hands the CR's Redis mode to clusterredis as a redisconn.Mode by conversion: each
// mode must be spelled the same in both, or a Sentinel or Cluster deployment would be dialled as
// a single server.
func TestRedisModesAreSpelledAsRedisconnModes(t *testing.T) {
	for mode, want := range map[v1alpha1.RedisMode]redisconn.Mode{
		v1alpha1.RedisModeStandalone: redisconn.Standalone,
		v1alpha1.RedisModeSentinel:   redisconn.Sentinel,
		v1alpha1.RedisModeCluster:    redisconn.Cluster,
	} {
		if got := redisconn.Mode(mode); got != want {
			t.Errorf("v1alpha1 mode %q converts to %q, want %q", mode, got, want)
		}
	}
}
