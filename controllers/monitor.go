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
	"reflect"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
	"github.com/switchboard-rtc/switchboard/controllers/clusterredis"
)

// The health monitor runs one goroutine per SignalingCluster. Each goroutine ticks on the
// cluster's health-check interval: it PINGs Redis, counts draining nodes, probes the media
// service, applies the failure/success thresholds and publishes the verdict to Redis. It never
// writes to the API server: when what it observed changes, it enqueues the SignalingCluster and
// the reconciler writes status (and emits Events) from Snapshot. Probing on a ticker rather
// than with RequeueAfter keeps the threshold arithmetic independent of how often other events
// trigger reconciles, and keeps slow probes off the reconcile workers.

// statusRefreshInterval bounds how stale status.mediaService.lastProbeTime may get while nothing
// else changes. It is the only status write of a steady state: one per cluster per interval.
const statusRefreshInterval = 5 * time.Minute

// MonitorConfig is what one SignalingCluster's monitor goroutine needs.
type MonitorConfig struct {
	// Redis is nil when it cannot be used (e.g. its password Secret is missing).
	Redis *RedisConfig
	// Media is nil when no media service is configured.
	Media *MediaCheckConfig
	// Interval between two ticks.
	Interval time.Duration
}

// MediaCheckConfig is the media-service health check of one SignalingCluster.
type MediaCheckConfig struct {
	URL              string
	Timeout          time.Duration
	FailureThreshold int32
	SuccessThreshold int32
}

// Snapshot is what the monitor last observed for one SignalingCluster.
type Snapshot struct {
	// Redis is nil until the first check completed.
	Redis *RedisCheck
	// Draining is the number of draining nodes; valid when DrainingKnown.
	Draining      int32
	DrainingKnown bool
	// Media is nil when no media service is configured.
	Media *MediaHealth
}

// RedisCheck is the result of a PING.
type RedisCheck struct {
	OK      bool
	Reason  string
	Message string
}

// MediaHealth is the health gate's state.
type MediaHealth struct {
	// Verdict is nil until the thresholds produced one.
	Verdict              *bool
	ConsecutiveFailures  int32
	ConsecutiveSuccesses int32
	LastError            string
	LastProbe            time.Time
	LastTransition       time.Time
	// PublishError is the last error publishing the verdict to Redis, if any.
	PublishError string
}

// Monitor is a manager.Runnable holding the per-SignalingCluster health goroutines.
type Monitor struct {
	Prober MediaProber
	Dial   RedisDialer
	Now    func() time.Time

	mu      sync.Mutex
	ctx     context.Context // set by Start
	targets map[types.NamespacedName]*monitorTarget
	events  chan event.GenericEvent
}

type monitorTarget struct {
	key    types.NamespacedName
	cfg    MonitorConfig
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	snap       Snapshot
	lastNotify time.Time
	announced  bool
}

// NewMonitor returns a Monitor with the production probers; the media probe dials only what
// policy allows.
func NewMonitor(policy ProbeAddressPolicy) *Monitor {
	return &Monitor{Prober: NewHTTPMediaProber(policy), Dial: clusterredis.Dial, Now: time.Now}
}

func (m *Monitor) init() {
	if m.targets == nil {
		m.targets = map[types.NamespacedName]*monitorTarget{}
		m.events = make(chan event.GenericEvent, 1024)
	}
}

// Source enqueues a SignalingCluster whenever its snapshot changes.
func (m *Monitor) Source() source.Source {
	m.mu.Lock()
	m.init()
	ch := m.events
	m.mu.Unlock()
	return source.Channel(ch, &handler.EnqueueRequestForObject{})
}

// Start runs until ctx ends; it implements manager.Runnable and needs the leader lease (the
// default), so only the leader probes and publishes.
func (m *Monitor) Start(ctx context.Context) error {
	m.mu.Lock()
	m.init()
	m.ctx = ctx
	for _, t := range m.targets {
		m.launch(t)
	}
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	targets := m.targets
	m.targets = map[types.NamespacedName]*monitorTarget{}
	m.mu.Unlock()
	for _, t := range targets {
		t.stop()
	}
	return nil
}

// Ensure makes the monitor for key run with cfg. An unchanged cfg is a no-op; a changed one
// restarts the goroutine. seed (the persisted status) lets a restarted manager continue with
// the verdict it published before instead of starting from "unknown".
func (m *Monitor) Ensure(key types.NamespacedName, cfg MonitorConfig, seed *v1alpha1.MediaServiceHealthStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	old, ok := m.targets[key]
	if ok && reflect.DeepEqual(old.cfg, cfg) {
		return
	}
	t := &monitorTarget{key: key, cfg: cfg}
	if ok {
		old.stop()
		old.mu.Lock()
		t.snap = old.snap
		old.mu.Unlock()
		if cfg.Media == nil {
			t.snap.Media = nil
		} else if old.cfg.Media == nil || old.cfg.Media.URL != cfg.Media.URL {
			t.snap.Media = seedMedia(seed)
		}
		if !reflect.DeepEqual(old.cfg.Redis, cfg.Redis) {
			t.snap.Redis = nil
		}
	} else if cfg.Media != nil {
		t.snap.Media = seedMedia(seed)
	}
	m.targets[key] = t
	if m.ctx != nil {
		m.launch(t)
	}
}

func seedMedia(seed *v1alpha1.MediaServiceHealthStatus) *MediaHealth {
	mh := &MediaHealth{}
	if seed != nil && seed.LastTransitionTime != nil {
		v := seed.Healthy
		mh.Verdict = &v
		mh.ConsecutiveFailures = seed.ConsecutiveFailures
		mh.ConsecutiveSuccesses = seed.ConsecutiveSuccesses
		mh.LastError = seed.LastError
		mh.LastTransition = seed.LastTransitionTime.Time
		if seed.LastProbeTime != nil {
			mh.LastProbe = seed.LastProbeTime.Time
		}
	}
	return mh
}

// Forget stops the monitor for key (the SignalingCluster is gone).
func (m *Monitor) Forget(key types.NamespacedName) {
	m.mu.Lock()
	t, ok := m.targets[key]
	delete(m.targets, key)
	m.mu.Unlock()
	if ok {
		t.stop()
	}
}

// Snapshot returns a copy of what the monitor last observed, and false when it has no target
// for key.
func (m *Monitor) Snapshot(key types.NamespacedName) (Snapshot, bool) {
	m.mu.Lock()
	t, ok := m.targets[key]
	m.mu.Unlock()
	if !ok {
		return Snapshot{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snap.clone(), true
}

func (s Snapshot) clone() Snapshot {
	c := s
	if s.Redis != nil {
		r := *s.Redis
		c.Redis = &r
	}
	if s.Media != nil {
		mh := *s.Media
		if s.Media.Verdict != nil {
			v := *s.Media.Verdict
			mh.Verdict = &v
		}
		c.Media = &mh
	}
	return c
}

// launch starts t's goroutine; m.mu is held.
func (m *Monitor) launch(t *monitorTarget) {
	if t.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	t.cancel = cancel
	t.done = make(chan struct{})
	go func() {
		defer close(t.done)
		m.run(ctx, t)
	}()
}

func (t *monitorTarget) stop() {
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
}

func (m *Monitor) run(ctx context.Context, t *monitorTarget) {
	log := logf.FromContext(ctx).WithValues("signalingcluster", t.key.String())
	ctx = logf.IntoContext(ctx, log)
	var conn RedisConn
	if t.cfg.Redis != nil {
		conn = m.Dial(*t.cfg.Redis)
		defer conn.Close()
	}
	interval := t.cfg.Interval
	if interval <= 0 {
		interval = v1alpha1.DefaultHealthCheckInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		m.tick(ctx, t, conn, interval)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// tick runs one round of checks and notifies the reconciler when the snapshot changed.
func (m *Monitor) tick(ctx context.Context, t *monitorTarget, conn RedisConn, interval time.Duration) {
	log := logf.FromContext(ctx)
	t.mu.Lock()
	next := t.snap.clone()
	announced := t.announced
	t.mu.Unlock()

	checkTimeout := min(interval, 2*time.Second)
	if conn != nil {
		pctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			reason := classifyRedisError(err)
			if prev := next.Redis; prev == nil || prev.Reason != reason {
				log.Info("Redis PING failed", "signalingcluster", t.key.String(), "reason", reason, "detail", err.Error())
			}
			next.Redis = &RedisCheck{Reason: reason, Message: redisFailureMessage(reason)}
			next.DrainingKnown = false
		} else {
			next.Redis = &RedisCheck{OK: true, Reason: v1alpha1.ReasonRedisPingSucceeded, Message: "PING answered with the configured credentials"}
			dctx, cancel := context.WithTimeout(ctx, checkTimeout)
			n, err := conn.CountDraining(dctx)
			cancel()
			if err == nil {
				next.Draining, next.DrainingKnown = n, true
			}
		}
	}
	if ctx.Err() != nil {
		return
	}

	transitioned := false
	if mc := t.cfg.Media; mc != nil {
		if next.Media == nil {
			next.Media = &MediaHealth{}
		}
		mh := next.Media
		pctx, cancel := context.WithTimeout(ctx, mc.Timeout)
		err := m.Prober.Probe(pctx, mc.URL)
		cancel()
		if ctx.Err() != nil {
			return
		}
		logProbeFailure(log, err, mh.ConsecutiveFailures)
		now := m.Now()
		*mh, transitioned = stepMediaHealth(*mh, err, now, *mc)
		if mh.Verdict != nil && conn != nil {
			v := MediaVerdict{
				Healthy:   *mh.Verdict,
				Reason:    verdictReason(mh),
				CheckedAt: now.UnixMilli(),
				Cluster:   t.key.String(),
			}
			announce := transitioned || !announced
			pctx, cancel := context.WithTimeout(ctx, checkTimeout)
			err := conn.PublishMediaVerdict(pctx, v, verdictTTL(interval), announce)
			cancel()
			if err != nil {
				mh.PublishError = err.Error()
				log.Error(err, "publishing media verdict")
			} else {
				mh.PublishError = ""
				if announce {
					announced = true
				}
			}
		}
	}

	t.mu.Lock()
	changed := !next.equalIgnoringProbeTime(t.snap)
	t.snap = next
	t.announced = announced
	notify := changed || m.Now().Sub(t.lastNotify) >= statusRefreshInterval
	if notify {
		t.lastNotify = m.Now()
	}
	t.mu.Unlock()
	if notify {
		m.notify(ctx, t.key)
	}
}

func (m *Monitor) notify(ctx context.Context, key types.NamespacedName) {
	obj := &v1alpha1.SignalingCluster{}
	obj.Name, obj.Namespace = key.Name, key.Namespace
	select {
	case m.events <- event.GenericEvent{Object: obj}:
	case <-ctx.Done():
	}
}

func (s Snapshot) equalIgnoringProbeTime(o Snapshot) bool {
	a, b := s.clone(), o.clone()
	if a.Media != nil {
		a.Media.LastProbe = time.Time{}
	}
	if b.Media != nil {
		b.Media.LastProbe = time.Time{}
	}
	return reflect.DeepEqual(a, b)
}

// verdictReason is the "reason" of the Redis verdict: "ok" or the last probe error.
func verdictReason(mh *MediaHealth) string {
	if mh.Verdict != nil && *mh.Verdict {
		return "ok"
	}
	if mh.LastError == "" {
		return "unhealthy"
	}
	return fmt.Sprintf("%s (%d consecutive failures)", strings.TrimSpace(mh.LastError), mh.ConsecutiveFailures)
}

// verdictTTL is 3× the interval, at least 30s: the key outlives two missed ticks.
func verdictTTL(interval time.Duration) time.Duration {
	return max(3*interval, 30*time.Second)
}

func boolPtr(b bool) *bool { return &b }
