package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// msgTrack follows one sent message: which room positions should get it, which did.
type msgTrack struct {
	expect atomic.Uint64
	got    atomic.Uint64
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

type errCounter struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (e *errCounter) add(k string) {
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string]uint64{}
	}
	e.m[k]++
	e.mu.Unlock()
}

func (e *errCounter) snapshot() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]uint64, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}

func (e *errCounter) total() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	for _, v := range e.m {
		n += v
	}
	return n
}

// errKind shortens an error to a stable label for the report.
func errKind(err error) string {
	var ae *sioclient.AckError
	var he *sioclient.HTTPError
	var ce *sioclient.ConnectError
	switch {
	case errors.As(err, &ae):
		return "ack:" + ae.Code
	case errors.As(err, &he):
		return "http_" + strconv.Itoa(he.Status)
	case errors.As(err, &ce):
		return "connect_error:" + ce.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, sioclient.ErrClosed):
		return "closed"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection_refused"
	case strings.Contains(s, "cannot assign requested address"):
		return "no_source_port"
	case strings.Contains(s, "too many open files"):
		return "fd_limit"
	case strings.Contains(s, "timeout"):
		return "timeout"
	case strings.Contains(s, "reset by peer"):
		return "reset"
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return s
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
				tok, err := keys.Token(cl.user, "Load "+cl.user, r.cfg.TokenTTL, nil)
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

func storeMax(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// marker is embedded in every tracked payload: ~lg<id>.<unix-nanos>~
var markerPrefix = []byte("~lg")

func appendMarker(b []byte, id uint64, t time.Time) []byte {
	b = append(b, markerPrefix...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	return append(b, '~')
}

func parseMarker(data []byte) (id uint64, sentAt int64, ok bool) {
	i := bytes.Index(data, markerPrefix)
	if i < 0 {
		return 0, 0, false
	}
	rest := data[i+len(markerPrefix):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		id = id*10 + uint64(rest[j]-'0')
		j++
	}
	if j == 0 || j >= len(rest) || rest[j] != '.' {
		return 0, 0, false
	}
	j++
	k := j
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		sentAt = sentAt*10 + int64(rest[j]-'0')
		j++
	}
	return id, sentAt, j > k && j < len(rest) && rest[j] == '~'
}

// onEvent runs on the client's reader goroutine for every server event: it must be cheap.
func (r *runner) onEvent(cl *client) func(sioclient.Event) {
	bit := uint64(1) << uint(cl.pos%64)
	return func(ev sioclient.Event) {
		switch ev.Name {
		case "webrtc_offer", "webrtc_answer", "webrtc_ice_candidate", "chat_message":
			id, sentAt, ok := parseMarker(ev.Data)
			if !ok || id >= uint64(len(r.msgs)) {
				r.foreign.Add(1)
				return
			}
			if old := r.msgs[id].got.Or(bit); old&bit != 0 {
				r.dups.Add(1)
				return
			}
			r.received.Add(1)
			r.delivery.Record(ev.At.Sub(time.Unix(0, sentAt)))
		case "user_joined", "user_left":
			r.roomEvents.Add(1)
		case "error":
			var e struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(ev.Data, &e)
			r.serverErrs.add(e.Code)
		}
	}
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

// scenario runs the traffic phase for --duration, then waits --drain for deliveries.
func (r *runner) scenario(ctx context.Context) {
	expected := 0.0
	switch r.cfg.Scenario {
	case scRelay, scChurn:
		expected = r.cfg.Rate * r.cfg.Duration.Seconds()
	case scChat:
		expected = r.cfg.Rate * float64(len(r.rooms)) * r.cfg.Duration.Seconds()
	}
	if r.cfg.Scenario == scRelay || r.cfg.Scenario == scChat {
		r.msgs = make([]msgTrack, int(expected*1.02)+1024)
	}
	runCtx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	r.runStart = time.Now()
	if ps, err := sampleProc(os.Getpid()); err == nil {
		r.cpuStart = ps.CPU
	}
	var wg sync.WaitGroup
	if r.cfg.Heartbeat > 0 {
		for _, cl := range r.clients {
			if cl.c != nil {
				wg.Add(1)
				go func() { defer wg.Done(); r.heartbeats(runCtx, cl) }()
			}
		}
	}
	var lastSent, lastRecv uint64
	lastT := time.Now()
	stopProgress := r.progress(r.cfg.Scenario, func() string {
		now := time.Now()
		s, rc := r.sent.Load(), r.received.Load()
		dt := now.Sub(lastT).Seconds()
		line := fmt.Sprintf("held %d/%d sent %d (%.0f/s) recv %d (%.0f/s) p99 %.2fms", r.held(), len(r.clients),
			s, float64(s-lastSent)/dt, rc, float64(rc-lastRecv)/dt, ms(r.delivery.Quantile(0.99)))
		lastSent, lastRecv, lastT = s, rc, now
		if r.cfg.Heartbeat > 0 {
			line += fmt.Sprintf(" | hb %d acked %d p99 %.2fms", r.hbSent.Load(), r.hbAcked.Load(), ms(r.hbLat.Quantile(0.99)))
		}
		if r.cfg.Scenario == scChurn {
			line += fmt.Sprintf(" | churn %d failed %d join p99 %.2fms", r.churnCycles.Load(), r.churnFailed.Load(), ms(r.churnJoin.Quantile(0.99)))
		}
		if n := r.serverErrs.total(); n > 0 {
			line += fmt.Sprintf(" | server errors %d", n)
		}
		return line
	})
	workers := max(1, r.cfg.Workers)
	switch r.cfg.Scenario {
	case scRelay:
		r.paced(runCtx, &wg, workers, r.cfg.Rate, r.relaySenders(), r.sendRelay)
	case scChat:
		r.paced(runCtx, &wg, workers, r.cfg.Rate*float64(len(r.rooms)), r.chatSenders(), r.sendChat)
	case scChurn:
		r.churn(runCtx, &wg, workers)
	}
	<-runCtx.Done()
	wg.Wait()
	r.runEnd = time.Now()
	if ps, err := sampleProc(os.Getpid()); err == nil {
		r.cpuEnd = ps.CPU
	}
	// Let what is in flight arrive; stop early once nothing is missing.
	drainEnd := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(drainEnd) {
		if r.received.Load()+r.dups.Load() >= r.expectedDeliveries() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopProgress()
}

// heartbeats sends `heartbeat` with an ack every --heartbeat (first one at a random
// offset, so the load is spread) and records the ack latency.
func (r *runner) heartbeats(ctx context.Context, cl *client) {
	first := time.Duration(rand.Int64N(int64(r.cfg.Heartbeat)))
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-cl.c.Done():
			return
		case <-t.C:
		}
		t.Reset(r.cfg.Heartbeat)
		if cl.busy.Load() {
			continue
		}
		r.hbSent.Add(1)
		hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t0 := time.Now()
		err := cl.c.Call(hctx, "heartbeat", nil, nil)
		cancel()
		if err != nil {
			r.hbFailed.Add(1)
			r.serverErrs.add("heartbeat:" + errKind(err))
			continue
		}
		r.hbAcked.Add(1)
		r.hbLat.Record(time.Since(t0))
	}
}

// sendSlot is one stream of tracked messages: a relay direction or a chat room.
type sendSlot struct {
	from  *client
	to    *client   // relay target
	room  []*client // chat members
	turn  int       // chat: next sender position; relay: offer/ICE alternation
	frame []byte
}

func (r *runner) relaySenders() []*sendSlot {
	var out []*sendSlot
	for _, room := range r.rooms {
		for i := 0; i+1 < len(room); i += 2 {
			a, b := room[i], room[i+1]
			if a.in.Load() && b.in.Load() {
				out = append(out, &sendSlot{from: a, to: b}, &sendSlot{from: b, to: a})
			}
		}
	}
	return out
}

func (r *runner) chatSenders() []*sendSlot {
	var out []*sendSlot
	for _, room := range r.rooms {
		var in []*client
		for _, cl := range room {
			if cl.in.Load() {
				in = append(in, cl)
			}
		}
		if len(in) > 0 {
			out = append(out, &sendSlot{room: in})
		}
	}
	return out
}

// paced spreads slots over workers; each worker sends at rate/workers, round-robin
// over its slots, until ctx ends or the message table is full.
func (r *runner) paced(ctx context.Context, wg *sync.WaitGroup, workers int, rate float64, slots []*sendSlot, send func(*sendSlot) bool) {
	if len(slots) == 0 || rate <= 0 {
		r.logf("loadgen: nothing to send (no complete pairs/rooms or --rate 0)")
		return
	}
	workers = min(workers, len(slots))
	for w := 0; w < workers; w++ {
		var mine []*sendSlot
		for i := w; i < len(slots); i += workers {
			mine = append(mine, slots[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			per := rate / float64(workers)
			t0 := time.Now()
			done, next := 0, 0
			for ctx.Err() == nil {
				due := int(time.Since(t0).Seconds() * per)
				for ; done < due && ctx.Err() == nil; done++ {
					s := mine[next%len(mine)]
					next++
					if !send(s) {
						return
					}
				}
				// Sleep until the next message is due (at least 1 ms).
				wait := time.Until(t0.Add(time.Duration(float64(done+1) / per * float64(time.Second))))
				select {
				case <-ctx.Done():
				case <-time.After(max(wait, time.Millisecond)):
				}
			}
		}()
	}
}

func (r *runner) allocID(expect uint64) (uint64, bool) {
	id := r.nextID.Add(1) - 1
	if id >= uint64(len(r.msgs)) {
		r.capped.Store(true)
		return 0, false
	}
	r.msgs[id].expect.Store(expect)
	return id, true
}

func (r *runner) pad(b []byte) []byte {
	for i := 0; i < r.cfg.PayloadBytes; i++ {
		b = append(b, 'x')
	}
	return b
}

func (r *runner) sendRelay(s *sendSlot) bool {
	id, ok := r.allocID(uint64(1) << uint(s.to.pos%64))
	if !ok {
		return false
	}
	b := s.frame[:0]
	to, _ := json.Marshal(s.to.user)
	if s.turn%2 == 0 {
		b = append(b, `42["webrtc_offer",{"to":`...)
		b = append(b, to...)
		b = append(b, `,"sdp":{"type":"offer","sdp":"`...)
		b = appendMarker(b, id, time.Now())
		b = r.pad(b)
		b = append(b, `"}}]`...)
	} else {
		b = append(b, `42["webrtc_ice_candidate",{"to":`...)
		b = append(b, to...)
		b = append(b, `,"candidate":{"candidate":"`...)
		b = appendMarker(b, id, time.Now())
		b = r.pad(b)
		b = append(b, `","sdpMid":"0","sdpMLineIndex":0}}]`...)
	}
	s.turn++
	s.frame = b
	r.write(s.from, id, b)
	return true
}

func (r *runner) sendChat(s *sendSlot) bool {
	var mask uint64
	for _, m := range s.room {
		mask |= uint64(1) << uint(m.pos%64)
	}
	id, ok := r.allocID(mask)
	if !ok {
		return false
	}
	from := s.room[s.turn%len(s.room)]
	s.turn++
	b := append(s.frame[:0], `42["chat_message",{"content":"`...)
	b = appendMarker(b, id, time.Now())
	b = r.pad(b)
	b = append(b, `"}]`...)
	s.frame = b
	r.write(from, id, b)
	return true
}

func (r *runner) write(from *client, id uint64, frame []byte) {
	if err := from.c.WriteRaw(frame); err != nil {
		r.msgs[id].expect.Store(0)
		r.sendErrs.Add(1)
		return
	}
	r.sent.Add(1)
}

// churn runs leave_room + join_room cycles at --rate per second over all clients.
func (r *runner) churn(ctx context.Context, wg *sync.WaitGroup, workers int) {
	var pool []*client
	for _, cl := range r.clients {
		if cl.in.Load() {
			pool = append(pool, cl)
		}
	}
	if len(pool) == 0 || r.cfg.Rate <= 0 {
		return
	}
	sem := make(chan struct{}, 512)
	slots := make([]*sendSlot, 0, len(pool))
	for _, cl := range pool {
		slots = append(slots, &sendSlot{from: cl})
	}
	r.paced(ctx, wg, workers, r.cfg.Rate, slots, func(s *sendSlot) bool {
		cl := s.from
		if !cl.busy.CompareAndSwap(false, true) {
			return true // still cycling: skip this turn
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			cl.busy.Store(false)
			return false
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem; cl.busy.Store(false) }()
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			t0 := time.Now()
			if err := cl.c.Call(cctx, "leave_room", map[string]string{}, nil); err != nil {
				r.churnFailed.Add(1)
				r.serverErrs.add("leave:" + errKind(err))
				return
			}
			r.churnLeave.Record(time.Since(t0))
			t1 := time.Now()
			if err := cl.c.Call(cctx, "join_room", map[string]string{"roomId": r.roomID(cl.room)}, nil); err != nil {
				r.churnFailed.Add(1)
				cl.in.Store(false)
				r.serverErrs.add("join:" + errKind(err))
				return
			}
			r.churnJoin.Record(time.Since(t1))
			r.churnCycles.Add(1)
		}()
		return true
	})
}

// expectedDeliveries counts the (message, receiver) pairs that should have arrived.
func (r *runner) expectedDeliveries() uint64 {
	n := min(r.nextID.Load(), uint64(len(r.msgs)))
	var e uint64
	for i := uint64(0); i < n; i++ {
		e += uint64(bits.OnesCount64(r.msgs[i].expect.Load()))
	}
	return e
}

func (r *runner) lost() uint64 {
	n := min(r.nextID.Load(), uint64(len(r.msgs)))
	var l uint64
	for i := uint64(0); i < n; i++ {
		m := &r.msgs[i]
		l += uint64(bits.OnesCount64(m.expect.Load() &^ m.got.Load()))
	}
	return l
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
