package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
)

// BenchmarkPollingSessionsOnOneNode measures the long-polling figures of docs/benchmarks.md
// (§Long-polling sessions on one node): a node process (cmd/signaling, in-memory bus) holds
// POLLING_SESSIONS (default 2,000) long-polling sessions of users in rooms of 10, each with
// a poll always waiting as socket.io-client keeps one; its RSS per session is reported. Then
// every session sends an event with an ack (POST) and collects the ack (the waiting poll
// answers), in a loop, for POLLING_SECONDS (default 10): HTTP requests/s and the node's CPU
// are reported. Run it alone:
//
//	go test -run '^$' -bench BenchmarkPollingSessionsOnOneNode -benchtime 1x ./test/
func BenchmarkPollingSessionsOnOneNode(b *testing.B) {
	sessions := envInt("POLLING_SESSIONS", 2000)
	seconds := envInt("POLLING_SECONDS", 10)
	bin := nodetest.BuildSignaling(b)
	keyFile := filepath.Join(b.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, nodetest.Keys().PublicPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	addr := nodetest.FreeAddr(b)
	cmd := exec.Command(bin, append(nodetest.ProcessFlags(), "--listen", addr, "--metrics-listen", nodetest.FreeAddr(b),
		"--node-id", "poll-bench", "--jwt-public-key", keyFile, "--log-level", "warn",
		"--event-rate", "1000000", "--event-burst", "1000000", "--max-connections-per-ip", "0")...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	for deadline := time.Now().Add(15 * time.Second); httpStatus(base+"/readyz") != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("node not ready")
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * sessions, MaxConnsPerHost: 0}}
	idle := procRSS(b, cmd.Process.Pid)

	ps := make([]*benchPoller, sessions)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range ps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := &benchPoller{c: client, base: base}
			if err := p.open(nodetest.Token(b, fmt.Sprintf("pb-%d", i)), fmt.Sprintf("pb-room-%d", i/10)); err != nil {
				b.Error(err)
				return
			}
			ps[i] = p
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Every session keeps one poll waiting, as the stock client does.
	for _, p := range ps {
		go p.loop(ctx)
	}
	time.Sleep(3 * time.Second)
	held := procRSS(b, cmd.Process.Pid)
	b.ReportMetric(float64(held-idle)/float64(sessions)/1024, "KiB/session")
	b.Logf("node RSS %.1f MiB idle, %.1f MiB with %d polling sessions (each with a waiting poll): %.1f KiB per session",
		float64(idle)/(1<<20), float64(held)/(1<<20), sessions, float64(held-idle)/float64(sessions)/1024)

	// Load: each session sends heartbeats with an ack as fast as its acks come back.
	var acks atomic.Int64
	for _, p := range ps {
		p.acked = &acks
		p.sending.Store(true)
		go p.send(ctx)
	}
	cpu0, t0 := procCPU(b, cmd.Process.Pid), time.Now()
	reqs0 := sumRequests(ps)
	time.Sleep(time.Duration(seconds) * time.Second)
	cpu1, t1 := procCPU(b, cmd.Process.Pid), time.Now()
	reqs1 := sumRequests(ps)
	el := t1.Sub(t0).Seconds()
	rps := float64(reqs1-reqs0) / el
	b.ReportMetric(rps, "requests/s")
	b.ReportMetric(float64(cpu1-cpu0)/float64(time.Second)/el*100, "node-cpu-%")
	b.Logf("%.0f HTTP requests/s (POSTs + polls), %.0f acked events/s, node CPU %.0f%% of one core; load average %s",
		rps, float64(acks.Load())/el, float64(cpu1-cpu0)/float64(time.Second)/el*100, loadavg())
}

type benchPoller struct {
	c         *http.Client
	base, sid string
	requests  atomic.Int64
	sending   atomic.Bool
	acked     *atomic.Int64
	ackCh     chan struct{}
}

func (p *benchPoller) url() string {
	return p.base + "/socket.io/?EIO=4&transport=polling&sid=" + p.sid
}

func (p *benchPoller) do(ctx context.Context, method, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := p.c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p.requests.Add(1)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s: %d %s", method, resp.StatusCode, b)
	}
	return string(b), nil
}

// open: handshake, CONNECT, join_room (and reads their answers).
func (p *benchPoller) open(token, room string) error {
	ctx := context.Background()
	body, err := p.do(ctx, http.MethodGet, p.base+"/socket.io/?EIO=4&transport=polling", "")
	if err != nil {
		return err
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		return err
	}
	p.sid, p.ackCh = open.SID, make(chan struct{}, 1)
	auth, _ := json.Marshal(map[string]string{"token": token})
	if _, err := p.do(ctx, http.MethodPost, p.url(), "40"+string(auth)); err != nil {
		return err
	}
	if _, err := p.do(ctx, http.MethodPost, p.url(), `421["join_room",{"roomId":"`+room+`"}]`); err != nil {
		return err
	}
	for got := ""; !strings.Contains(got, "431["); {
		if got, err = p.do(ctx, http.MethodGet, p.url(), ""); err != nil {
			return err
		}
	}
	return nil
}

// loop keeps one poll waiting; it answers pings and signals acks.
func (p *benchPoller) loop(ctx context.Context) {
	for ctx.Err() == nil {
		body, err := p.do(ctx, http.MethodGet, p.url(), "")
		if err != nil {
			return
		}
		for _, pkt := range strings.Split(body, "\x1e") {
			switch {
			case pkt == "2":
				_, _ = p.do(ctx, http.MethodPost, p.url(), "3")
			case strings.HasPrefix(pkt, "43"):
				if p.acked != nil {
					p.acked.Add(1)
				}
				select {
				case p.ackCh <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (p *benchPoller) send(ctx context.Context) {
	for ctx.Err() == nil {
		if _, err := p.do(ctx, http.MethodPost, p.url(), `427["heartbeat"]`); err != nil {
			return
		}
		select {
		case <-p.ackCh:
		case <-ctx.Done():
			return
		}
	}
}

func sumRequests(ps []*benchPoller) int64 {
	var n int64
	for _, p := range ps {
		n += p.requests.Load()
	}
	return n
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func procRSS(b *testing.B, pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// procCPU is the process's user+system CPU time (clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
