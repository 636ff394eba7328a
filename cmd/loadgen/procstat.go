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
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, 100 on every Linux we run on.
const clockTicks = 100

// procSample is one reading of a process's memory and CPU time from /proc.
type procSample struct {
	RSSBytes uint64        `json:"rss_bytes"`
	CPU      time.Duration `json:"-"`
	At       time.Time     `json:"-"`
	// Reads and writes: the read(2)/write(2)-family system calls so far (/proc/PID/io
	// syscr, syscw; zero where the file cannot be read).
	Reads, Writes uint64 `json:"-"`
}

func sampleProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			s.RSSBytes = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may contain spaces; fields after the closing paren are fixed.
	if i := bytes.LastIndexByte(stat, ')'); i > 0 {
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 12 {
			ut, _ := strconv.ParseUint(f[11], 10, 64)
			st, _ := strconv.ParseUint(f[12], 10, 64)
			s.CPU = time.Duration(ut+st) * time.Second / clockTicks
		}
	}
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for _, line := range bytes.Split(io, []byte("\n")) {
			if f := strings.Fields(string(line)); len(f) == 2 {
				n, _ := strconv.ParseUint(f[1], 10, 64)
				switch f[0] {
				case "syscr:":
					s.Reads = n
				case "syscw:":
					s.Writes = n
				}
			}
		}
	}
	return s, nil
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}

// nodeWatch samples the signaling node processes named by --node-pids at the phases of
// a run: before any client connects, once every client is in, and at the end of the
// scenario (CPU use is taken between the last two).
type nodeWatch struct {
	pids                []int
	metricsURLs         []string // same order as pids: /metrics is read once everyone is in
	before, setup, ends []procSample
	goMem               []goMem
	endMem              []goMem // the bus histograms at the end of the scenario
}

// goMem is what the node's /metrics says about its Go memory once every client is in.
type goMem struct {
	HeapInuse, StackInuse, Goroutines float64
	// Buckets holds the cumulative bucket counts of the node's bus latency histograms
	// (busHistograms), by histogram and upper bound.
	Buckets map[string]map[float64]float64
}

func scrapeGoMem(url string) goMem {
	var g goMem
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(strings.TrimRight(url, "/") + "/metrics")
	if err != nil {
		return g
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		if name, le, ok := busBucket(f[0]); ok {
			if g.Buckets == nil {
				g.Buckets = map[string]map[float64]float64{}
			}
			if g.Buckets[name] == nil {
				g.Buckets[name] = map[float64]float64{}
			}
			g.Buckets[name][le] = v
			continue
		}
		switch f[0] {
		case "go_memstats_heap_inuse_bytes":
			g.HeapInuse = v
		case "go_memstats_stack_inuse_bytes":
			g.StackInuse = v
		case "go_goroutines":
			g.Goroutines = v
		}
	}
	return g
}

func (w *nodeWatch) sample() []procSample {
	out := make([]procSample, len(w.pids))
	for i, pid := range w.pids {
		s, err := sampleProc(pid)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: cannot read node pid %d: %v\n", pid, err)
		}
		out[i] = s
	}
	return out
}

// nodeStat is one node's figures in the report.
type nodeStat struct {
	PID              int     `json:"pid"`
	RSSBeforeMiB     float64 `json:"rss_before_mib"`
	RSSConnectedMiB  float64 `json:"rss_connected_mib"`
	RSSEndMiB        float64 `json:"rss_end_mib"`
	CPUPercent       float64 `json:"cpu_percent_during_scenario"`
	ConnectionsHeld  int     `json:"connections"`
	RSSPerConnKiB    float64 `json:"rss_per_connection_kib"`
	DeltaPerConnKiB  float64 `json:"rss_delta_per_connection_kib"`
	CPUMeasuredOverS float64 `json:"cpu_measured_over_s"`
	// CPUSeconds, ReadCalls and WriteCalls are the node's CPU time and read(2)/write(2)
	// system calls during the scenario.
	CPUSeconds float64 `json:"cpu_seconds_during_scenario"`
	// SetupCPUSeconds is the node's CPU time while the clients connected and joined.
	SetupCPUSeconds float64 `json:"cpu_seconds_during_setup"`
	ReadCalls       uint64  `json:"read_calls_during_scenario"`
	WriteCalls      uint64  `json:"write_calls_during_scenario"`
	// From the node's /metrics when every client was in.
	HeapInuseMiB  float64 `json:"go_heap_inuse_mib"`
	StackInuseMiB float64 `json:"go_stack_inuse_mib"`
	Goroutines    int     `json:"goroutines"`
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func (w *nodeWatch) stats(connsPerNode []int) []nodeStat {
	var out []nodeStat
	for i, pid := range w.pids {
		st := nodeStat{PID: pid}
		if i < len(w.before) {
			st.RSSBeforeMiB = round2(mib(w.before[i].RSSBytes))
		}
		if i < len(w.setup) {
			st.RSSConnectedMiB = round2(mib(w.setup[i].RSSBytes))
			if i < len(w.before) {
				st.SetupCPUSeconds = round2((w.setup[i].CPU - w.before[i].CPU).Seconds())
			}
		}
		if i < len(w.ends) {
			st.RSSEndMiB = round2(mib(w.ends[i].RSSBytes))
			if i < len(w.setup) {
				el := w.ends[i].At.Sub(w.setup[i].At)
				if el > 0 {
					st.CPUPercent = round2(100 * float64(w.ends[i].CPU-w.setup[i].CPU) / float64(el))
					st.CPUMeasuredOverS = round2(el.Seconds())
					st.CPUSeconds = (w.ends[i].CPU - w.setup[i].CPU).Seconds()
					st.ReadCalls = w.ends[i].Reads - w.setup[i].Reads
					st.WriteCalls = w.ends[i].Writes - w.setup[i].Writes
				}
			}
		}
		if i < len(w.goMem) {
			st.HeapInuseMiB = round2(w.goMem[i].HeapInuse / (1 << 20))
			st.StackInuseMiB = round2(w.goMem[i].StackInuse / (1 << 20))
			st.Goroutines = int(w.goMem[i].Goroutines)
		}
		if i < len(connsPerNode) && connsPerNode[i] > 0 && i < len(w.setup) {
			n := float64(connsPerNode[i])
			st.ConnectionsHeld = connsPerNode[i]
			st.RSSPerConnKiB = round2(float64(w.setup[i].RSSBytes) / n / 1024)
			if i < len(w.before) {
				st.DeltaPerConnKiB = round2((float64(w.setup[i].RSSBytes) - float64(w.before[i].RSSBytes)) / n / 1024)
			}
		}
		out = append(out, st)
	}
	return out
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
