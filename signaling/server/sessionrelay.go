// No sticky sessions: a request of a session that another node owns (the sid names the
// owner, polling.go) is relayed to the owner over the bus as a request/response; a
// WebSocket upgrade landing here is bridged: this node holds the socket and passes its
// frames to the owner and back (docs/protocol.md §Transport, docs/architecture.md).

package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// Relay steps (hub.PublishTransport events).
const (
	stepGet     = "get"      // relaying node → owner: a poll
	stepPost    = "post"     // relaying node → owner: a POST's payload
	stepReply   = "reply"    // owner → relaying node: the answer
	stepWSOpen  = "ws_open"  // bridge → owner: a WebSocket for the session arrived
	stepWSIn    = "ws_in"    // bridge → owner: one frame from the client
	stepWSOut   = "ws_out"   // owner → bridge: frames for the client (record-separated)
	stepWSClose = "ws_close" // owner → bridge: close the WebSocket
	stepWSGone  = "ws_gone"  // bridge → owner: the WebSocket closed
)

// relayEnvelope is the data of one step.
type relayEnvelope struct {
	Req      string     `json:"q"` // the request (or bridge) id on the relaying node
	Body     []byte     `json:"b,omitempty"`
	TooLarge bool       `json:"l,omitempty"`
	Reply    *httpReply `json:"r,omitempty"`
}

// relays is the relaying side's state: requests waiting for their answer, and bridges.
type relays struct {
	mu      sync.Mutex
	waiting map[string]chan httpReply
	bridges map[string]*wsConn
}

func newRelays() relays {
	return relays{waiting: map[string]chan httpReply{}, bridges: map[string]*wsConn{}}
}

// publishStep sends one step to node; it waits for the bus, at most 5 s.
func (s *Server) publishStep(node, step, sid string, env relayEnvelope) error {
	data, _ := json.Marshal(env)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.opts.Hub.PublishTransport(ctx, node, step, sid, data)
}

// relayRequest passes a poll or POST to the owning node and writes its answer. An owner
// that does not answer (gone, or the bus down) is answered "Session ID unknown": the
// client opens a new session, on a node that is up.
func (s *Server) relayRequest(w http.ResponseWriter, r *http.Request, owner, sid string) {
	step, kind := stepGet, "get"
	env := relayEnvelope{Req: newSID()}
	// A poll is answered within a ping interval (the owner pings); a POST at once.
	wait := s.opts.PingInterval + s.opts.PingTimeout
	if r.Method == http.MethodPost {
		step, kind, wait = stepPost, "post", s.opts.PingTimeout
		body, ok, err := readPost(r, s.opts.MaxPayload)
		if err != nil {
			badRequest.write(w)
			return
		}
		env.Body, env.TooLarge = body, !ok
	}
	ch := make(chan httpReply, 1)
	s.relay.mu.Lock()
	s.relay.waiting[env.Req] = ch
	s.relay.mu.Unlock()
	defer func() {
		s.relay.mu.Lock()
		delete(s.relay.waiting, env.Req)
		s.relay.mu.Unlock()
	}()
	if err := s.publishStep(owner, step, sid, env); err != nil {
		s.m.SessionRelays.WithLabelValues(kind, "unavailable").Inc()
		unknownSID.write(w)
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case rp := <-ch:
		s.m.SessionRelays.WithLabelValues(kind, "ok").Inc()
		rp.write(w)
	case <-t.C:
		s.m.SessionRelays.WithLabelValues(kind, "timeout").Inc()
		unknownSID.write(w)
	case <-r.Context().Done():
	}
}

// onTransport handles the steps other nodes send (on the bus's delivery goroutine: what
// can wait runs elsewhere, in order per session through its inbox).
func (s *Server) onTransport(from, step, sid string, data json.RawMessage) {
	var env relayEnvelope
	if json.Unmarshal(data, &env) != nil || env.Req == "" {
		return
	}
	switch step {
	case stepReply:
		s.relay.mu.Lock()
		ch := s.relay.waiting[env.Req]
		s.relay.mu.Unlock()
		if ch != nil && env.Reply != nil {
			select {
			case ch <- *env.Reply:
			default:
			}
		}
		return
	case stepWSOut, stepWSClose:
		s.relay.mu.Lock()
		c := s.relay.bridges[env.Req]
		s.relay.mu.Unlock()
		if c == nil {
			return
		}
		if step == stepWSClose {
			c.Close("owner closed")
			return
		}
		for _, f := range protocol.DecodePayload(env.Body) {
			c.Send(f)
		}
		return
	}
	if sidOwner(sid) != s.opts.Hub.NodeID() {
		return
	}
	ps := s.polls.get(sid)
	switch step {
	case stepGet:
		go func() {
			rp := unknownSID
			if ps != nil {
				ctx, cancel := context.WithTimeout(context.Background(), s.opts.PingInterval+s.opts.PingTimeout/2)
				rp = ps.conn.poll(ctx, false)
				cancel()
				s.m.PollingRequests.WithLabelValues("GET", strconv.Itoa(rp.Status)).Inc()
			}
			_ = s.publishStep(from, stepReply, sid, relayEnvelope{Req: env.Req, Reply: &rp})
		}()
	case stepPost:
		if ps == nil {
			go func() { _ = s.publishStep(from, stepReply, sid, relayEnvelope{Req: env.Req, Reply: &unknownSID}) }()
			return
		}
		ps.inbox(func() {
			rp := ps.servePost(env.Body, env.TooLarge)
			_ = s.publishStep(from, stepReply, sid, relayEnvelope{Req: env.Req, Reply: &rp})
		})
	case stepWSOpen, stepWSIn, stepWSGone:
		if ps == nil {
			if step != stepWSGone {
				go func() { _ = s.publishStep(from, stepWSClose, sid, relayEnvelope{Req: env.Req}) }()
			}
			return
		}
		ps.inbox(func() { ps.bridgeStep(from, step, env) })
	}
}

// inbox runs f after the session's earlier relayed steps, in arrival order.
func (ps *pollSession) inbox(f func()) {
	ps.imu.Lock()
	ps.ifs = append(ps.ifs, f)
	start := !ps.irunning
	ps.irunning = true
	ps.imu.Unlock()
	if start {
		go ps.runInbox()
	}
}

func (ps *pollSession) runInbox() {
	for {
		ps.imu.Lock()
		if len(ps.ifs) == 0 {
			ps.irunning = false
			ps.imu.Unlock()
			return
		}
		f := ps.ifs[0]
		ps.ifs[0] = nil
		ps.ifs = ps.ifs[1:]
		ps.imu.Unlock()
		f()
	}
}

// bridgeStep is the owner's side of a bridged WebSocket: the probe, the switch on 5,
// then the client's frames.
func (ps *pollSession) bridgeStep(from, step string, env relayEnvelope) {
	s, p := ps.s, ps.conn
	switch step {
	case stepWSOpen:
		if !p.canUpgrade() {
			_ = s.publishStep(from, stepWSClose, ps.sid, relayEnvelope{Req: env.Req})
			return
		}
		ps.bridgeID = env.Req
		return
	case stepWSGone:
		if ps.bridgeID == env.Req {
			p.mu.Lock()
			bridged := p.bridged
			p.mu.Unlock()
			if bridged {
				p.Close("transport close")
			} else {
				p.abortUpgrade() // the probe's socket closed before 5: polling goes on
			}
		}
		return
	}
	if ps.bridgeID != env.Req {
		_ = s.publishStep(from, stepWSClose, ps.sid, relayEnvelope{Req: env.Req})
		return
	}
	p.mu.Lock()
	bridged := p.bridged
	p.mu.Unlock()
	if bridged {
		p.touch()
		ps.handle(env.Body)
		return
	}
	switch {
	case string(env.Body) == string(probeIn):
		_ = s.publishStep(from, stepWSOut, ps.sid, relayEnvelope{Req: env.Req, Body: probeOut})
		p.startUpgrade()
	case len(env.Body) == 1 && env.Body[0] == byte(protocol.EngineUpgrade) && p.isUpgrading():
		p.mu.Lock()
		p.bridged = true
		p.lastRecv = time.Now()
		p.mu.Unlock()
		p.wake()
		s.m.PollingSessions.Dec()
		go ps.pump(from, env.Req)
		ps.logDebug("upgraded to websocket", "bridge", from)
	default:
		p.abortUpgrade()
		_ = s.publishStep(from, stepWSClose, ps.sid, relayEnvelope{Req: env.Req})
	}
}

// pump sends what is queued for a bridged session to its bridge, in order, until the
// session closes; then the bridge closes the WebSocket.
func (ps *pollSession) pump(node, id string) {
	p := ps.conn
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.mu.Unlock()
			select {
			case <-p.notify:
			case <-p.done:
			}
			p.mu.Lock()
		}
		batch, closed := p.queue, p.closed
		p.queue, p.bytes = nil, 0
		p.mu.Unlock()
		if len(batch) > 0 {
			if err := ps.s.publishStep(node, stepWSOut, ps.sid, relayEnvelope{Req: id, Body: protocol.EncodePayload(batch)}); err != nil {
				p.Close("write error")
			}
		}
		if closed {
			_ = ps.s.publishStep(node, stepWSClose, ps.sid, relayEnvelope{Req: id})
			return
		}
	}
}

// serveBridge accepts the WebSocket upgrade of a session another node owns and bridges
// it: frames from the client go to the owner, the owner's frames to the client.
func (s *Server) serveBridge(w http.ResponseWriter, r *http.Request, owner, sid string) {
	ws, err := s.upgrader.Upgrade(coalescingHijacker{w}, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(s.opts.MaxPayload)
	s.conns.add()
	go s.runBridge(ws, owner, sid)
}

func (s *Server) runBridge(ws *websocket.Conn, owner, sid string) {
	defer s.conns.done()
	id := newSID()
	c := newWSConn(ws, s.opts.SendQueue, s.opts.SendQueueBytes, s.opts.PingInterval, s.opts.WriteTimeout, func() { s.m.SlowConsumers.Inc() })
	s.relay.mu.Lock()
	s.relay.bridges[id] = c
	s.relay.mu.Unlock()
	s.m.BridgedSockets.Inc()
	defer func() {
		s.relay.mu.Lock()
		delete(s.relay.bridges, id)
		s.relay.mu.Unlock()
		s.m.BridgedSockets.Dec()
	}()
	if err := s.publishStep(owner, stepWSOpen, sid, relayEnvelope{Req: id}); err != nil {
		s.m.SessionRelays.WithLabelValues("websocket", "unavailable").Inc()
		c.Close("owner unreachable")
		return
	}
	s.m.SessionRelays.WithLabelValues("websocket", "ok").Inc()
	for {
		// The owner pings through the bridge and the client answers: a quiet socket is
		// dead (or its owner is).
		_ = ws.SetReadDeadline(time.Now().Add(s.opts.PingInterval + s.opts.PingTimeout))
		mt, frame, err := ws.ReadMessage()
		if err != nil || mt != websocket.TextMessage {
			break
		}
		if s.publishStep(owner, stepWSIn, sid, relayEnvelope{Req: id, Body: frame}) != nil {
			break
		}
	}
	c.Close("transport close")
	_ = s.publishStep(owner, stepWSGone, sid, relayEnvelope{Req: id})
}

// CloseBridges closes the WebSockets this node bridges for other nodes' sessions (at
// shutdown; their owners then see the sessions' transports close).
func (s *Server) CloseBridges() {
	s.relay.mu.Lock()
	cs := make([]*wsConn, 0, len(s.relay.bridges))
	for _, c := range s.relay.bridges {
		cs = append(cs, c)
	}
	s.relay.mu.Unlock()
	for _, c := range cs {
		c.Close("server shutdown")
	}
}
