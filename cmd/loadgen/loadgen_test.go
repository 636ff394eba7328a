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

package main

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
)

func testConfig(n *nodetest.Node, scenario string, rate float64) config {
	return config{
		URLs: []string{n.URL}, Clients: 20, RoomSize: 2, Scenario: scenario, Rate: rate,
		Heartbeat: 500 * time.Millisecond, Duration: 1500 * time.Millisecond, Drain: 2 * time.Second,
		Key: nodetest.Keys().Private, TokenTTL: time.Hour, DialConcurrency: 20, DialTimeout: 10 * time.Second,
		Prefix: "t-", PayloadBytes: 50, Workers: 2,
	}
}

// TestRelayCountsAreConsistent: 20 clients in 10 pairs on an in-process node relay
// offers/ICE at 400 msg/s; every message sent is received exactly once.
func TestRelayCountsAreConsistent(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{})
	rep := newRunner(testConfig(n, scRelay, 400)).run(context.Background())
	if rep.Setup.Connected != 20 || rep.Setup.Joined != 20 || rep.Connections.HeldAtEnd != 20 {
		t.Fatalf("setup: connected %d joined %d held %d, want 20", rep.Setup.Connected, rep.Setup.Joined, rep.Connections.HeldAtEnd)
	}
	m := rep.Messages
	if m.Sent < 300 || m.Sent != m.Expected || m.Received != m.Sent || m.Lost != 0 || m.Duplicates != 0 || m.Untracked != 0 || m.SendErrors != 0 {
		t.Fatalf("relay counts inconsistent: %+v", m)
	}
	if m.DeliveryLatency.Count != m.Received || m.DeliveryLatency.P99Ms <= 0 {
		t.Fatalf("latency histogram: %+v (received %d)", m.DeliveryLatency, m.Received)
	}
	if len(m.ServerErrors) != 0 {
		t.Fatalf("server errors: %v", m.ServerErrors)
	}
	if rep.Heartbeat.Sent == 0 || rep.Heartbeat.Acked != rep.Heartbeat.Sent {
		t.Fatalf("heartbeats: %+v", rep.Heartbeat)
	}
}

// TestChatFanOutReachesEveryMember: chat in rooms of 5 reaches all members, sender included.
func TestChatFanOutReachesEveryMember(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{})
	cfg := testConfig(n, scChat, 4)
	cfg.RoomSize = 5
	rep := newRunner(cfg).run(context.Background())
	m := rep.Messages
	if m.Sent == 0 || m.Expected != 5*m.Sent || m.Received != m.Expected || m.Lost != 0 || m.Duplicates != 0 {
		t.Fatalf("chat counts inconsistent: %+v", m)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.Quantile(c.q)
		if d := got - c.want; d < -c.want/50 || d > c.want/50 {
			t.Errorf("q%.2f = %s, want %s ±2%%", c.q, got, c.want)
		}
	}
	var m hist
	m.merge(h.export())
	m.merge(h.export())
	if m.n.Load() != 2000 || m.Quantile(0.5) != h.Quantile(0.5) {
		t.Fatalf("merge: n=%d p50 %s vs %s", m.n.Load(), m.Quantile(0.5), h.Quantile(0.5))
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	now := time.Now()
	b := appendMarker([]byte(`{"sdp":"`), 12345, now)
	b = append(b, `xx"}`...)
	id, at, ok := parseMarker(b)
	if !ok || id != 12345 || at != now.UnixNano() {
		t.Fatalf("parseMarker(%s) = %d %d %v", b, id, at, ok)
	}
	for _, bad := range []string{`~lg`, `~lg12`, `~lg12.`, `~lg.5~`, `~lg1.2`} {
		if _, _, ok := parseMarker([]byte(bad)); ok {
			t.Errorf("parseMarker(%q) accepted", bad)
		}
	}
}

func TestParseAddrsAndURLs(t *testing.T) {
	ips, err := parseAddrs("127.0.0.2+3,127.0.0.9")
	if err != nil || len(ips) != 4 || ips[2].String() != "127.0.0.4" || ips[3].String() != "127.0.0.9" {
		t.Fatalf("parseAddrs = %v %v", ips, err)
	}
	if _, err := parseAddrs("10.0.0.1"); err == nil {
		t.Fatal("non-loopback source accepted")
	}
	if _, err := parseURLs("url", "http://192.168.1.1:8080"); err == nil {
		t.Fatal("non-loopback target accepted")
	}
	if u, err := parseURLs("url", "http://127.0.0.1:1,http://localhost:2,http://[::1]:3"); err != nil || len(u) != 3 {
		t.Fatalf("parseURLs = %v %v", u, err)
	}
}
