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
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// report is the result of a run, printed as text or JSON (--json). In multi-process mode
// the parent merges its children's reports (counts add, histograms merge).
type report struct {
	Scenario     string     `json:"scenario"`
	Nodes        []string   `json:"nodes"`
	Clients      int        `json:"clients"`
	RoomSize     int        `json:"room_size"`
	Rooms        int        `json:"rooms"`
	Processes    int        `json:"loader_processes"`
	SourceAddrs  []string   `json:"source_addrs,omitempty"`
	Rate         float64    `json:"rate"`
	RateUnit     string     `json:"rate_unit,omitempty"`
	LoadAvgStart [3]float64 `json:"load_average_start"`
	LoadAvgEnd   [3]float64 `json:"load_average_end"`
	CPUs         int        `json:"cpus"`

	Setup struct {
		TokensS    float64           `json:"tokens_signed_s"`
		Connected  int64             `json:"connected"`
		Joined     int64             `json:"joined"`
		ConnectAll float64           `json:"all_connected_s"`
		AllIn      float64           `json:"all_joined_s"`
		DialErrors map[string]uint64 `json:"dial_errors,omitempty"`
		JoinErrors map[string]uint64 `json:"join_errors,omitempty"`
		ConnectLat latencySummary    `json:"connect_latency"`
		JoinLat    latencySummary    `json:"join_latency"`
	} `json:"setup"`

	Connections struct {
		Target     int `json:"target"`
		HeldAtEnd  int `json:"held_at_end"`
		DroppedRun int `json:"dropped"`
	} `json:"connections"`

	Messages struct {
		DurationS       float64           `json:"duration_s"`
		Sent            uint64            `json:"sent"`
		SendErrors      uint64            `json:"send_errors"`
		SendRate        float64           `json:"sent_per_s"`
		Expected        uint64            `json:"expected_deliveries"`
		Received        uint64            `json:"received"`
		DeliveryRate    float64           `json:"deliveries_per_s"`
		Lost            uint64            `json:"lost"`
		Duplicates      uint64            `json:"duplicates"`
		Untracked       uint64            `json:"untracked"`
		TableFull       bool              `json:"id_table_full,omitempty"`
		RoomEvents      uint64            `json:"room_events"`
		ServerErrors    map[string]uint64 `json:"server_errors,omitempty"`
		DeliveryLatency latencySummary    `json:"delivery_latency"`
	} `json:"messages"`

	Heartbeat struct {
		Sent    uint64         `json:"sent"`
		Acked   uint64         `json:"acked"`
		Failed  uint64         `json:"failed"`
		Rate    float64        `json:"per_s"`
		Latency latencySummary `json:"ack_latency"`
	} `json:"heartbeat"`

	Churn struct {
		Cycles      uint64         `json:"cycles"`
		Failed      uint64         `json:"failed"`
		Rate        float64        `json:"cycles_per_s"`
		JoinLatency latencySummary `json:"join_ack_latency"`
		LeaveLatecy latencySummary `json:"leave_ack_latency"`
	} `json:"churn"`

	// LoaderCPUPercent is the loader processes' CPU time during the scenario, in % of
	// one core (summed over --procs children).
	LoaderCPUPercent float64 `json:"loader_cpu_percent"`

	NodeStats []nodeStat `json:"node_stats,omitempty"`
	// BusTiming: the nodes' Redis publish round trip and publish-to-receipt time during
	// the scenario (busTiming).
	BusTiming string `json:"bus_timing,omitempty"`

	// Histograms are the raw bucket counts (for merging reports of several processes).
	Histograms map[string]histJSON `json:"histograms,omitempty"`
	// ConnsPerNode counts connections held at the "connected" barrier, per URL.
	ConnsPerNode []int `json:"connections_per_node"`
}

func (r *runner) report() *report {
	rep := &report{Scenario: r.cfg.Scenario, Nodes: r.cfg.URLs, Clients: len(r.clients), RoomSize: r.cfg.RoomSize,
		Rooms: len(r.rooms), Processes: 1, Rate: r.cfg.Rate}
	for _, a := range r.cfg.SourceAddrs {
		rep.SourceAddrs = append(rep.SourceAddrs, a.String())
	}
	rep.Setup.TokensS = secs(r.tokensDur)
	rep.Setup.Connected = r.connected.Load()
	rep.Setup.Joined = r.joined.Load()
	rep.Setup.ConnectAll = secs(time.Duration(r.lastConnect.Load()))
	rep.Setup.AllIn = secs(time.Duration(r.lastJoin.Load()))
	rep.Setup.DialErrors = r.dialErrs.snapshot()
	rep.Setup.JoinErrors = r.joinErrs.snapshot()
	rep.Connections.Target = len(r.clients)
	rep.Connections.HeldAtEnd = r.held()
	rep.Connections.DroppedRun = int(r.connected.Load()) - rep.Connections.HeldAtEnd
	rep.ConnsPerNode = make([]int, len(r.cfg.URLs))
	for _, cl := range r.clients {
		if cl.c != nil {
			rep.ConnsPerNode[cl.node]++
		}
	}
	m := &rep.Messages
	if !r.runStart.IsZero() {
		m.DurationS = secs(r.runEnd.Sub(r.runStart))
	}
	if el := r.runEnd.Sub(r.runStart); el > 0 {
		rep.LoaderCPUPercent = round2(100 * float64(r.cpuEnd-r.cpuStart) / float64(el))
	}
	m.Sent, m.SendErrors = r.sent.Load(), r.sendErrs.Load()
	m.Expected, m.Received = r.expectedDeliveries(), r.received.Load()
	m.Lost, m.Duplicates, m.Untracked, m.TableFull = r.lost(), r.dups.Load(), r.foreign.Load(), r.capped.Load()
	m.RoomEvents = r.roomEvents.Load()
	m.ServerErrors = r.serverErrs.snapshot()
	rep.Heartbeat.Sent, rep.Heartbeat.Acked, rep.Heartbeat.Failed = r.hbSent.Load(), r.hbAcked.Load(), r.hbFailed.Load()
	rep.Churn.Cycles, rep.Churn.Failed = r.churnCycles.Load(), r.churnFailed.Load()
	rep.Histograms = map[string]histJSON{
		"connect": r.connectLat.export(), "join": r.joinLat.export(), "delivery": r.delivery.export(),
		"heartbeat": r.hbLat.export(), "churn_join": r.churnJoin.export(), "churn_leave": r.churnLeave.export(),
	}
	rep.finish()
	return rep
}

// finish derives rates and latency summaries from counts and histograms.
func (rep *report) finish() {
	h := func(name string) latencySummary {
		var x hist
		x.merge(rep.Histograms[name])
		return x.Summary()
	}
	rep.Setup.ConnectLat, rep.Setup.JoinLat = h("connect"), h("join")
	rep.Messages.DeliveryLatency = h("delivery")
	rep.Heartbeat.Latency = h("heartbeat")
	rep.Churn.JoinLatency, rep.Churn.LeaveLatecy = h("churn_join"), h("churn_leave")
	if d := rep.Messages.DurationS; d > 0 {
		rep.Messages.SendRate = round2(float64(rep.Messages.Sent) / d)
		rep.Messages.DeliveryRate = round2(float64(rep.Messages.Received) / d)
		rep.Heartbeat.Rate = round2(float64(rep.Heartbeat.Sent) / d)
		rep.Churn.Rate = round2(float64(rep.Churn.Cycles) / d)
	}
	switch rep.Scenario {
	case scRelay:
		rep.RateUnit = "messages/s in total"
	case scChat:
		rep.RateUnit = "messages/s per room"
	case scChurn:
		rep.RateUnit = "leave+join cycles/s in total"
	}
}

func secs(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

func addMaps(dst *map[string]uint64, src map[string]uint64) {
	if len(src) == 0 {
		return
	}
	if *dst == nil {
		*dst = map[string]uint64{}
	}
	for k, v := range src {
		(*dst)[k] += v
	}
}

// merge adds a child's report into rep.
func (rep *report) merge(c *report) {
	rep.Clients += c.Clients
	rep.Rooms += c.Rooms
	rep.SourceAddrs = append(rep.SourceAddrs, c.SourceAddrs...)
	rep.Setup.TokensS = max(rep.Setup.TokensS, c.Setup.TokensS)
	rep.Setup.Connected += c.Setup.Connected
	rep.Setup.Joined += c.Setup.Joined
	rep.Setup.ConnectAll = max(rep.Setup.ConnectAll, c.Setup.ConnectAll)
	rep.Setup.AllIn = max(rep.Setup.AllIn, c.Setup.AllIn)
	addMaps(&rep.Setup.DialErrors, c.Setup.DialErrors)
	addMaps(&rep.Setup.JoinErrors, c.Setup.JoinErrors)
	rep.Connections.Target += c.Connections.Target
	rep.Connections.HeldAtEnd += c.Connections.HeldAtEnd
	rep.Connections.DroppedRun += c.Connections.DroppedRun
	if len(rep.ConnsPerNode) < len(c.ConnsPerNode) {
		rep.ConnsPerNode = append(rep.ConnsPerNode, make([]int, len(c.ConnsPerNode)-len(rep.ConnsPerNode))...)
	}
	for i, n := range c.ConnsPerNode {
		rep.ConnsPerNode[i] += n
	}
	rep.LoaderCPUPercent = round2(rep.LoaderCPUPercent + c.LoaderCPUPercent)
	m, cm := &rep.Messages, &c.Messages
	m.DurationS = max(m.DurationS, cm.DurationS)
	m.Sent += cm.Sent
	m.SendErrors += cm.SendErrors
	m.Expected += cm.Expected
	m.Received += cm.Received
	m.Lost += cm.Lost
	m.Duplicates += cm.Duplicates
	m.Untracked += cm.Untracked
	m.TableFull = m.TableFull || cm.TableFull
	m.RoomEvents += cm.RoomEvents
	addMaps(&m.ServerErrors, cm.ServerErrors)
	rep.Heartbeat.Sent += c.Heartbeat.Sent
	rep.Heartbeat.Acked += c.Heartbeat.Acked
	rep.Heartbeat.Failed += c.Heartbeat.Failed
	rep.Churn.Cycles += c.Churn.Cycles
	rep.Churn.Failed += c.Churn.Failed
	if rep.Histograms == nil {
		rep.Histograms = map[string]histJSON{}
	}
	for name, hj := range c.Histograms {
		var x hist
		x.merge(rep.Histograms[name])
		x.merge(hj)
		rep.Histograms[name] = x.export()
	}
}

func fmtLat(l latencySummary) string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("n=%d mean %.2f p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f ms",
		l.Count, l.MeanMs, l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.MaxMs)
}

func fmtErrs(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func (rep *report) writeText(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("scenario      %s  rate %g %s", rep.Scenario, rep.Rate, rep.RateUnit)
	p("nodes         %s", strings.Join(rep.Nodes, " "))
	p("clients       %d in %d rooms of %d, %d loader process(es), source addrs %s", rep.Clients, rep.Rooms, rep.RoomSize, rep.Processes, strings.Join(rep.SourceAddrs, ","))
	p("machine       %d CPUs, load average %.2f %.2f %.2f at start, %.2f %.2f %.2f at end", rep.CPUs,
		rep.LoadAvgStart[0], rep.LoadAvgStart[1], rep.LoadAvgStart[2], rep.LoadAvgEnd[0], rep.LoadAvgEnd[1], rep.LoadAvgEnd[2])
	s := rep.Setup
	p("setup         tokens signed in %.2fs; connected %d, joined %d; all connected after %.3fs, all in their rooms after %.3fs",
		s.TokensS, s.Connected, s.Joined, s.ConnectAll, s.AllIn)
	p("  dial errors %s; join errors %s", fmtErrs(s.DialErrors), fmtErrs(s.JoinErrors))
	p("  connect     %s", fmtLat(s.ConnectLat))
	p("  join ack    %s", fmtLat(s.JoinLat))
	p("connections   target %d, held at end %d, dropped %d, per node %v", rep.Connections.Target, rep.Connections.HeldAtEnd, rep.Connections.DroppedRun, rep.ConnsPerNode)
	m := rep.Messages
	if m.DurationS > 0 {
		p("messages      over %.2fs: sent %d (%.0f/s), send errors %d, expected deliveries %d, received %d (%.0f/s)",
			m.DurationS, m.Sent, m.SendRate, m.SendErrors, m.Expected, m.Received, m.DeliveryRate)
		p("  loss        lost %d, duplicates %d, untracked %d%s; room events %d", m.Lost, m.Duplicates, m.Untracked,
			map[bool]string{true: " (message id table full: sending stopped early)", false: ""}[m.TableFull], m.RoomEvents)
		p("  server errors %s", fmtErrs(m.ServerErrors))
		p("  delivery    %s", fmtLat(m.DeliveryLatency))
		p("loader        CPU %.0f%% of one core during the scenario (all loader processes)", rep.LoaderCPUPercent)
	}
	if hb := rep.Heartbeat; hb.Sent > 0 {
		p("heartbeat     sent %d (%.0f/s), acked %d, failed %d", hb.Sent, hb.Rate, hb.Acked, hb.Failed)
		p("  ack         %s", fmtLat(hb.Latency))
	}
	if c := rep.Churn; c.Cycles+c.Failed > 0 {
		p("churn         cycles %d (%.0f/s), failed %d", c.Cycles, c.Rate, c.Failed)
		p("  join ack    %s", fmtLat(c.JoinLatency))
		p("  leave ack   %s", fmtLat(c.LeaveLatecy))
	}
	for _, n := range rep.NodeStats {
		cpu := fmt.Sprintf("CPU %.2fs during set-up, no scenario phase", n.SetupCPUSeconds)
		if n.CPUMeasuredOverS >= 1 {
			cpu = fmt.Sprintf("CPU %.0f%% of one core over %.1fs of scenario", n.CPUPercent, n.CPUMeasuredOverS)
		}
		if n.ConnectionsHeld == 0 {
			p("pid %d        (no URL: e.g. redis-server) RSS %.1f MiB before, %.1f MiB at end; %s", n.PID, n.RSSBeforeMiB, n.RSSEndMiB, cpu)
			continue
		}
		p("node pid %d   RSS %.1f MiB before, %.1f MiB with %d connections (%.2f KiB/conn; %.2f KiB/conn above the empty node), %.1f MiB at end; %s",
			n.PID, n.RSSBeforeMiB, n.RSSConnectedMiB, n.ConnectionsHeld, n.RSSPerConnKiB, n.DeltaPerConnKiB, n.RSSEndMiB, cpu)
		if n.Goroutines > 0 {
			p("  go runtime  heap in use %.1f MiB, stacks %.1f MiB, %d goroutines (with every client in)", n.HeapInuseMiB, n.StackInuseMiB, n.Goroutines)
		}
	}
	if c := costPerDelivery(rep); c != "" {
		p("per delivery  %s", c)
	}
	if rep.BusTiming != "" {
		p("bus (nodes)   %s (scenario phase, histogram buckets)", rep.BusTiming)
	}
}

// costPerDelivery is what the servers (the nodes with a URL) spent per delivered frame
// during the scenario: CPU time and read(2)/write(2) system calls, all nodes together.
func costPerDelivery(rep *report) string {
	var cpu float64
	var reads, writes uint64
	for _, n := range rep.NodeStats {
		if n.ConnectionsHeld > 0 {
			cpu += n.CPUSeconds
			reads += n.ReadCalls
			writes += n.WriteCalls
		}
	}
	d := float64(rep.Messages.Received)
	if d == 0 || cpu == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f µs of node CPU, %.2f read + %.2f write system calls (%d deliveries, all nodes)",
		cpu*1e6/d, float64(reads)/d, float64(writes)/d, rep.Messages.Received)
}
