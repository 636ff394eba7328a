package test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

// procNode is a signaling binary run as a subprocess, so it can be SIGTERMed/SIGKILLed.
type procNode struct {
	id, addr    string
	metricsAddr string // --metrics-listen; a free loopback port when empty
	args        []string
	env         []string  // added to this process's environment, e.g. GOMAXPROCS=1
	stderr      io.Writer // the node's log; os.Stderr when nil
	cmd         *exec.Cmd
	exited      chan struct{}
	exitErr     error
	exitAt      time.Time
}

func (p *procNode) url() string { return "http://" + p.addr }

func startProc(t *testing.T, bin, id, addr string, args ...string) *procNode {
	t.Helper()
	p := &procNode{id: id, addr: addr, args: args}
	p.start(t, bin)
	return p
}

func (p *procNode) start(t *testing.T, bin string) {
	t.Helper()
	if p.metricsAddr == "" {
		p.metricsAddr = nodetest.FreeAddr(t)
	}
	all := append(append([]string{"--listen", p.addr, "--metrics-listen", p.metricsAddr, "--node-id", p.id, "--log-level", "warn"}, nodetest.ProcessFlags()...), p.args...)
	p.cmd = exec.Command(bin, all...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stderr = os.Stderr
	if p.stderr != nil {
		p.cmd.Stderr = p.stderr
	}
	p.exited = make(chan struct{})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.exitErr = p.cmd.Wait()
		p.exitAt = time.Now()
		close(p.exited)
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	waitHTTP(t, p.url()+"/readyz", 15*time.Second)
}

// member is a client that behaves like a frontend: on a lost connection it reconnects
// to a random node (a draining node refuses it with 503) and re-emits join_room.
type member struct {
	user, room string
	nodes      func() []string

	mu          sync.Mutex
	c           *sioclient.Client
	chat        map[string]int // message id → live deliveries
	history     map[string]bool
	churn       []string // user_joined/user_left seen after the initial join phase
	drops       []time.Time
	reconnected int
	reconnectAt time.Time // when server_draining said to reconnect
	settled     atomic.Bool
	stopped     atomic.Bool
	done        chan struct{}
}

func newMember(user, room string, nodes func() []string) *member {
	return &member{user: user, room: room, nodes: nodes, chat: map[string]int{}, history: map[string]bool{}, done: make(chan struct{})}
}

func (m *member) onEvent(ev sioclient.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch ev.Name {
	case "chat_message":
		var cm struct{ ID string }
		_ = json.Unmarshal(ev.Data, &cm)
		m.chat[cm.ID]++
	case "user_joined", "user_left":
		if m.settled.Load() {
			m.churn = append(m.churn, ev.Name+" "+string(ev.Data))
		}
	case "server_draining":
		var d struct {
			ReconnectInMs int64 `json:"reconnectInMs"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		m.reconnectAt = ev.At.Add(time.Duration(d.ReconnectInMs) * time.Millisecond)
	}
}

// connect dials nodes in random order until one accepts and the join succeeds.
func (m *member) connect(t *testing.T, token string, first string) error {
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		url := first
		if attempt > 0 || url == "" {
			ns := m.nodes()
			url = ns[rand.IntN(len(ns))]
		}
		c, err := sioclient.Dial(context.Background(), url, sioclient.Options{Token: token, OnEvent: m.onEvent, Timeout: 3 * time.Second})
		if err != nil {
			time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
			continue
		}
		var ack struct {
			Chat []struct{ ID string } `json:"chat"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = c.Call(ctx, "join_room", map[string]string{"roomId": m.room}, &ack)
		cancel()
		if err != nil {
			c.Close()
			continue
		}
		m.mu.Lock()
		m.c = c
		for _, h := range ack.Chat {
			m.history[h.ID] = true
		}
		m.mu.Unlock()
		return nil
	}
	return errors.New("could not reconnect within 30 s")
}

// run keeps the member connected until stop.
func (m *member) run(t *testing.T, token string) {
	defer close(m.done)
	for {
		m.mu.Lock()
		c := m.c
		m.mu.Unlock()
		<-c.Done()
		if m.stopped.Load() {
			return
		}
		m.mu.Lock()
		m.drops = append(m.drops, time.Now())
		at := m.reconnectAt
		m.reconnectAt = time.Time{}
		m.mu.Unlock()
		if at.IsZero() {
			// Not a drain: socket.io-client waits 0.5–1.5 s (reconnectionDelay 1 s,
			// randomization 0.5).
			at = time.Now().Add(time.Duration(500+rand.IntN(1000)) * time.Millisecond)
		}
		// A drained client waits the reconnectInMs it was told, as a well-behaved one does.
		time.Sleep(time.Until(at))
		if err := m.connect(t, token, ""); err != nil {
			if !m.stopped.Load() {
				t.Errorf("%s: %v", m.user, err)
			}
			return
		}
		m.mu.Lock()
		m.reconnected++
		m.mu.Unlock()
	}
}

func (m *member) client() *sioclient.Client {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c
}

type loadResult struct {
	mu    sync.Mutex
	acked map[string]string // message id → room
}

// traffic sends chat messages and offers from every member until ctx ends.
func traffic(ctx context.Context, members []*member, byRoom map[string][]*member, res *loadResult) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func(m *member) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(1500+rand.IntN(1500)) * time.Millisecond):
				}
				c := m.client()
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				var ack struct{ ID string }
				if err := c.Call(cctx, "chat_message", map[string]any{"content": fmt.Sprintf("%s #%d", m.user, i)}, &ack); err == nil {
					res.mu.Lock()
					res.acked[ack.ID] = m.room
					res.mu.Unlock()
				}
				peers := byRoom[m.room]
				to := peers[rand.IntN(len(peers))].user
				if to != m.user {
					_ = c.Call(cctx, "webrtc_offer", map[string]any{"to": to, "sdp": "load"}, nil)
				}
				cancel()
			}
		}(m)
	}
	return &wg
}

type drainCluster struct {
	bin   string
	redis *redisserver.Server
	nodes []*procNode
	mu    sync.Mutex
	urls  []string
}

func (dc *drainCluster) nodeURLs() []string {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	return append([]string(nil), dc.urls...)
}

// Drain settings: short ones keep `make test` quick; the benchmark run
// (SWITCHBOARD_DRAIN_CLIENTS set) uses the node's production defaults.
var (
	drainTimeout = 10 * time.Second
	drainShare   = 0.3
	drainWindow  = 4 * time.Second
	drainJitter  = 500 * time.Millisecond
)

func init() {
	if os.Getenv("SWITCHBOARD_DRAIN_CLIENTS") != "" {
		drainTimeout, drainShare, drainWindow = 30*time.Second, 0.1, 5*time.Second
	}
}

func startDrainCluster(t *testing.T) *drainCluster {
	t.Helper()
	dc := &drainCluster{bin: nodetest.BuildSignaling(t), redis: redisserver.Start(t, redisserver.Options{})}
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, nodetest.Keys().PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		p := startProc(t, dc.bin, "drain-"+strconv.Itoa(i), nodetest.FreeAddr(t),
			"--redis-url", dc.redis.URL(), "--jwt-public-key", keyFile,
			"--drain-timeout", drainTimeout.String(), "--reconnect-window", drainWindow.String(),
			"--drain-max-reconnect-share", strconv.FormatFloat(drainShare, 'f', -1, 64), "--drain-reconnect-jitter", drainJitter.String(),
			"--event-rate", "50")
		dc.nodes = append(dc.nodes, p)
		dc.urls = append(dc.urls, p.url())
	}
	return dc
}

// drainClients is the number of members (10 per room, spread over 3 nodes): 300 by
// default; SWITCHBOARD_DRAIN_CLIENTS=3000 gives the 1,000-per-node figure of
// docs/benchmarks.md.
func drainClients() int {
	if n, err := strconv.Atoi(os.Getenv("SWITCHBOARD_DRAIN_CLIENTS")); err == nil && n >= 30 {
		return n - n%30
	}
	return 300
}

// populate connects the members, 10 per room, spread over the nodes.
func populate(t *testing.T, dc *drainCluster) ([]*member, map[string][]*member) {
	t.Helper()
	total := drainClients()
	var members []*member
	byRoom := map[string][]*member{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < total; i++ {
		room := "room-" + strconv.Itoa(i%(total/10))
		m := newMember("user-"+strconv.Itoa(i), room, dc.nodeURLs)
		members = append(members, m)
		byRoom[room] = append(byRoom[room], m)
		wg.Add(1)
		go func(i int, m *member) {
			defer wg.Done()
			if err := m.connect(t, nodetest.Token(t, m.user), dc.urls[i%3]); err != nil {
				mu.Lock()
				t.Errorf("%s: %v", m.user, err)
				mu.Unlock()
			}
		}(i, m)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	time.Sleep(time.Second) // let the join announcements settle before counting churn
	for _, m := range members {
		m.settled.Store(true)
		go m.run(t, nodetest.Token(t, m.user))
	}
	t.Cleanup(func() {
		for _, m := range members {
			m.stopped.Store(true)
			if c := m.client(); c != nil {
				c.Close()
			}
		}
	})
	return members, byRoom
}

// drainNode SIGTERMs p and checks it exits 0 before its deadline.
func drainNode(t *testing.T, p *procNode) {
	t.Helper()
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(drainTimeout + 5*time.Second):
		t.Fatalf("%s did not exit within the drain timeout", p.id)
	}
	if p.exitErr != nil {
		t.Fatalf("%s exited with %v, want status 0", p.id, p.exitErr)
	}
	if took := p.exitAt.Sub(start); took > drainTimeout {
		t.Fatalf("%s took %s to exit, more than --drain-timeout %s", p.id, took, drainTimeout)
	} else {
		t.Logf("%s drained and exited 0 after %s", p.id, took.Round(time.Millisecond))
	}
}

// checkReconnectRate verifies the drops of one drain never exceeded the share per second.
func checkReconnectRate(t *testing.T, drops []time.Time, nodeSockets int) (peak int) {
	t.Helper()
	sort.Slice(drops, func(i, j int) bool { return drops[i].Before(drops[j]) })
	j := 0
	for i := range drops {
		for drops[i].Sub(drops[j]) >= time.Second {
			j++
		}
		if n := i - j + 1; n > peak {
			peak = n
		}
	}
	// The drops are observed by the clients: a busy 2-core machine delays some of them and
	// bunches them up, so allow 25 % over the server's schedule (which hub/drain_test.go
	// checks exactly, and which never closes two sockets closer than the even spacing).
	// When the share would need more time than the drain has, the node spreads the closes
	// over what it has (docs/operations.md): the deadline wins.
	spreadCap := (drainTimeout - drainWindow - drainJitter - 4*time.Second).Seconds()
	rate := math.Max(drainShare*float64(nodeSockets), float64(nodeSockets)/spreadCap)
	bound := int(math.Ceil(rate*1.25)) + 2
	if peak > bound {
		t.Errorf("peak reconnects %d per second exceed the bound %d (share %.2f of %d sockets)", peak, bound, drainShare, nodeSockets)
	}
	return peak
}

// settle waits until every member is connected again (within), lets traffic run 2 s
// more, stops it and waits for the last deliveries.
func settle(t *testing.T, members []*member, within time.Duration, stopTraffic context.CancelFunc, traffic *sync.WaitGroup) {
	t.Helper()
	waitUntil(t, within, "every client connected again", func() bool {
		for _, m := range members {
			select {
			case <-m.client().Done():
				return false
			default:
			}
		}
		return true
	})
	time.Sleep(2 * time.Second)
	stopTraffic()
	traffic.Wait()
	time.Sleep(time.Second)
}

func verifyNoLossNoChurn(t *testing.T, members []*member, byRoom map[string][]*member, res *loadResult) {
	t.Helper()
	res.mu.Lock()
	defer res.mu.Unlock()
	lost, dup := 0, 0
	for id, room := range res.acked {
		for _, m := range byRoom[room] {
			m.mu.Lock()
			n := m.chat[id]
			if n == 0 && m.history[id] {
				n = 1 // missed live during its reconnect, recovered from the join ack's history
			}
			m.mu.Unlock()
			switch {
			case n == 0:
				lost++
			case n > 1:
				dup++
			}
		}
	}
	churn := 0
	for _, m := range members {
		m.mu.Lock()
		churn += len(m.churn)
		if len(m.churn) > 0 && churn <= len(m.churn) {
			t.Logf("churn seen by %s: %v", m.user, m.churn)
		}
		m.mu.Unlock()
	}
	t.Logf("acknowledged chat messages: %d; member deliveries lost: %d, duplicated: %d; churn events: %d", len(res.acked), lost, dup, churn)
	if lost > 0 || dup > 0 || churn > 0 {
		t.Errorf("lost %d, duplicated %d deliveries, %d churn events; want 0, 0, 0", lost, dup, churn)
	}
}

func TestDrainMovesClientsWithoutChurnOrLoss(t *testing.T) {
	dc := startDrainCluster(t)
	members, byRoom := populate(t, dc)
	res := &loadResult{acked: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	wg := traffic(ctx, members, byRoom, res)
	time.Sleep(2 * time.Second)

	victim := dc.nodes[0]
	dc.mu.Lock()
	dc.urls = []string{dc.nodes[1].url(), dc.nodes[2].url(), victim.url()} // clients may still try it: it answers 503
	dc.mu.Unlock()
	start := time.Now()
	drainNode(t, victim)
	// Every client is back (on another node) within the drain timeout + a few seconds.
	settle(t, members, drainTimeout+5*time.Second-time.Since(start), cancel, wg)

	var drops []time.Time
	moved := 0
	for _, m := range members {
		m.mu.Lock()
		if len(m.drops) > 0 {
			moved++
		}
		drops = append(drops, m.drops...)
		m.mu.Unlock()
	}
	if want := len(members) / 3; moved != want {
		t.Errorf("%d clients reconnected, want the %d of the drained node", moved, want)
	}
	peak := checkReconnectRate(t, drops, len(members)/3)
	t.Logf("moved %d clients in %s; peak reconnects %d/s (bound: share %.2f)", moved, time.Since(start).Round(time.Millisecond), peak, drainShare)
	verifyNoLossNoChurn(t, members, byRoom, res)
}

func TestRollingRestartUnderLoad(t *testing.T) {
	dc := startDrainCluster(t)
	members, byRoom := populate(t, dc)
	res := &loadResult{acked: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	wg := traffic(ctx, members, byRoom, res)
	time.Sleep(2 * time.Second)

	for i, p := range dc.nodes {
		before := map[*member]int{}
		for _, m := range members {
			m.mu.Lock()
			before[m] = len(m.drops)
			m.mu.Unlock()
		}
		drainNode(t, p)
		// The new version comes up on the same address under a new node id, as a new pod
		// of a Deployment gets a new name.
		p.id += "-next"
		p.start(t, dc.bin)
		time.Sleep(drainWindow)
		var drops []time.Time
		held := 0
		for _, m := range members {
			m.mu.Lock()
			if n := len(m.drops) - before[m]; n > 0 {
				held++
				drops = append(drops, m.drops[before[m]:]...)
			}
			m.mu.Unlock()
		}
		peak := checkReconnectRate(t, drops, held)
		t.Logf("node %d: %d clients moved, peak %d reconnects/s", i, held, peak)
	}
	settle(t, members, 10*time.Second, cancel, wg)
	verifyNoLossNoChurn(t, members, byRoom, res)
}
