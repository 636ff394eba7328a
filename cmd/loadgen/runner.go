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

// The runner: one loader's clients, rooms and phases (tokens, setup, traffic, report,
// close). The traffic itself is in scenarios.go, the bookkeeping of what arrived in
// tracking.go.

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

// Scenarios.
const (
	scIdle  = "idle"  // connect, join, heartbeat every --heartbeat
	scRelay = "relay" // offers / ICE candidates between room pairs at --rate msg/s in total
	scChat  = "chat"  // chat messages at --rate msg/s per room, delivered to every member
	scChurn = "churn" // leave_room + join_room cycles at --rate per second in total
	scStorm = "storm" // every client connects and joins at once; report the time until all are in
)

// config is one loader's work. In multi-process mode each child gets a slice of it.
type config struct {
	URLs            []string
	Clients         int
	ClientOffset    int // global index of this loader's first client (multi-process)
	RoomSize        int
	Scenario        string
	Rate            float64
	Heartbeat       time.Duration
	Duration        time.Duration
	Drain           time.Duration
	Key             *rsa.PrivateKey
	TokenTTL        time.Duration
	Audience        string // aud claim of the tokens; the node's --jwt-audience
	SourceAddrs     []net.IP
	DialConcurrency int
	ConnectRate     float64
	DialTimeout     time.Duration
	Prefix          string
	PayloadBytes    int
	Workers         int
	Progress        time.Duration
	ProgressOut     io.Writer
	// barrier is called at phase boundaries: "tokens" (all tokens signed, nothing
	// connected), "connected" (every client connected and joined), "end" (sending
	// stopped and drained). The multi-process parent aligns its children there and
	// samples the nodes.
	barrier func(phase string)
}

type client struct {
	idx   int // global index
	room  int // global room index
	pos   int // position in the room (bit in delivery masks)
	node  int // index into URLs
	user  string
	token string
	c     *sioclient.Client
	busy  atomic.Bool // a churn cycle is running
	in    atomic.Bool // joined (and not churned out)
}

type runner struct {
	cfg     config
	clients []*client
	rooms   [][]*client
	start   time.Time

	// setup
	tokensDur             time.Duration
	setupStart            time.Time
	lastConnect, lastJoin atomic.Int64 // ns since setupStart
	dialErrs, joinErrs    errCounter
	connected, joined     atomic.Int64
	connectLat, joinLat   hist

	// traffic
	msgs        []msgTrack
	nextID      atomic.Uint64
	sent        atomic.Uint64
	sendErrs    atomic.Uint64
	capped      atomic.Bool
	received    atomic.Uint64
	dups        atomic.Uint64
	foreign     atomic.Uint64 // tracked-looking events with an unknown id
	delivery    hist
	serverErrs  errCounter
	roomEvents  atomic.Uint64 // user_joined / user_left seen
	hbSent      atomic.Uint64
	hbAcked     atomic.Uint64
	hbFailed    atomic.Uint64
	hbLat       hist
	churnCycles atomic.Uint64
	churnFailed atomic.Uint64
	churnJoin   hist
	churnLeave  hist

	runStart, runEnd time.Time
	cpuStart, cpuEnd time.Duration // this loader process's CPU time
}

func newRunner(cfg config) *runner {
	r := &runner{cfg: cfg}
	firstRoom := cfg.ClientOffset / cfg.RoomSize
	nRooms := (cfg.Clients + cfg.RoomSize - 1) / cfg.RoomSize
	r.rooms = make([][]*client, nRooms)
	for i := 0; i < cfg.Clients; i++ {
		g := cfg.ClientOffset + i
		cl := &client{idx: g, room: g / cfg.RoomSize, pos: g % cfg.RoomSize, node: g % len(cfg.URLs)}
		cl.user = fmt.Sprintf("%su%d", cfg.Prefix, g)
		r.clients = append(r.clients, cl)
		r.rooms[cl.room-firstRoom] = append(r.rooms[cl.room-firstRoom], cl)
	}
	return r
}

func (r *runner) roomID(room int) string { return fmt.Sprintf("%sr%d", r.cfg.Prefix, room) }

func (r *runner) barrier(phase string) {
	if r.cfg.barrier != nil {
		r.cfg.barrier(phase)
	}
}

func (r *runner) logf(format string, a ...any) {
	if r.cfg.ProgressOut != nil {
		fmt.Fprintf(r.cfg.ProgressOut, format+"\n", a...)
	}
}

// run executes the whole run and returns the report. Every phase is bounded in time.
func (r *runner) run(ctx context.Context) *report {
	r.start = time.Now()
	la0 := loadAvg()
	r.signTokens()
	r.barrier("tokens")
	r.setup(ctx)
	r.barrier("connected")
	if r.cfg.Scenario != scStorm && r.cfg.Duration > 0 {
		r.scenario(ctx)
	}
	r.barrier("end")
	rep := r.report()
	rep.LoadAvgStart, rep.LoadAvgEnd = la0, loadAvg()
	r.closeAll()
	return rep
}

func (r *runner) signTokens() {
	t0 := time.Now()
	keys := &auth.DevKeys{Private: r.cfg.Key}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(r.clients) {
					return
				}
				cl := r.clients[i]
				tok, err := keys.Token(cl.user, "Load "+cl.user, r.cfg.TokenTTL, map[string]any{"aud": r.cfg.Audience})
				if err != nil {
					panic(err) // a valid RSA key always signs
				}
				cl.token = tok
			}
		}()
	}
	wg.Wait()
	r.tokensDur = time.Since(t0)
	r.logf("loadgen: %d tokens signed in %s", len(r.clients), r.tokensDur.Round(time.Millisecond))
}

// setup connects every client and joins it to its room, --dial-concurrency at a time
// (optionally paced at --connect-rate per second).
func (r *runner) setup(ctx context.Context) {
	r.setupStart = time.Now()
	conc := r.cfg.DialConcurrency
	if r.cfg.Scenario == scStorm || conc <= 0 || conc > len(r.clients) {
		conc = len(r.clients)
	}
	work := make(chan *client)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cl := range work {
				r.connect(ctx, cl)
			}
		}()
	}
	stopProgress := r.progress("setup", func() string {
		return fmt.Sprintf("connected %d/%d joined %d dial errors %d join errors %d",
			r.connected.Load(), len(r.clients), r.joined.Load(), r.dialErrs.total(), r.joinErrs.total())
	})
	// Bound the whole setup: every dial and join has its own timeout, so this is a
	// backstop only.
	bound := 2*r.cfg.DialTimeout + time.Minute
	if r.cfg.ConnectRate > 0 {
		bound += time.Duration(float64(len(r.clients)) / r.cfg.ConnectRate * float64(time.Second))
	}
	deadline := time.Now().Add(bound)
	sctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var pace *time.Ticker
	if r.cfg.ConnectRate > 0 {
		pace = time.NewTicker(time.Duration(float64(time.Second) / r.cfg.ConnectRate))
		defer pace.Stop()
	}
feed:
	for _, cl := range r.clients {
		if pace != nil {
			select {
			case <-pace.C:
			case <-sctx.Done():
				break feed
			}
		}
		select {
		case work <- cl:
		case <-sctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	stopProgress()
	r.logf("loadgen: setup done in %s: %d connected, %d joined", time.Since(r.setupStart).Round(time.Millisecond), r.connected.Load(), r.joined.Load())
}

func (r *runner) connect(ctx context.Context, cl *client) {
	opts := sioclient.Options{Token: cl.token, Buffer: 1, Timeout: r.cfg.DialTimeout, OnEvent: r.onEvent(cl)}
	if n := len(r.cfg.SourceAddrs); n > 0 {
		opts.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: r.cfg.SourceAddrs[cl.idx%n]}, Timeout: r.cfg.DialTimeout}
	}
	t0 := time.Now()
	c, err := sioclient.Dial(ctx, r.cfg.URLs[cl.node], opts)
	if err != nil {
		r.dialErrs.add(errKind(err))
		return
	}
	cl.c = c
	r.connectLat.Record(time.Since(t0))
	r.connected.Add(1)
	storeMax(&r.lastConnect, int64(time.Since(r.setupStart)))
	jctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
	defer cancel()
	t1 := time.Now()
	if err := c.Call(jctx, "join_room", map[string]string{"roomId": r.roomID(cl.room)}, nil); err != nil {
		r.joinErrs.add(errKind(err))
		return
	}
	r.joinLat.Record(time.Since(t1))
	cl.in.Store(true)
	r.joined.Add(1)
	storeMax(&r.lastJoin, int64(time.Since(r.setupStart)))
}

// progress prints a line every --progress until the returned stop is called.
func (r *runner) progress(phase string, line func() string) (stop func()) {
	if r.cfg.Progress <= 0 || r.cfg.ProgressOut == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.cfg.Progress)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.logf("[%6.1fs] %-6s %s", time.Since(r.start).Seconds(), phase, line())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *runner) held() int {
	n := 0
	for _, cl := range r.clients {
		if cl.c == nil {
			continue
		}
		select {
		case <-cl.c.Done():
		default:
			n++
		}
	}
	return n
}

// closeAll disconnects every client (a Socket.IO DISCONNECT, i.e. a deliberate leave).
func (r *runner) closeAll() {
	var wg sync.WaitGroup
	ch := make(chan *client)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cl := range ch {
				if cl.c != nil {
					cl.c.Disconnect()
				}
			}
		}()
	}
	for _, cl := range r.clients {
		ch <- cl
	}
	close(ch)
	wg.Wait()
}
