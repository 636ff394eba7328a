// Engine.IO v4 HTTP long-polling: the handshake GET, polls (GET) and client packets
// (POST) of the sessions this node owns, with the reference server's status codes.

package server

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// A polling session's sid names its owner: <random>.<base64url(node id)>, so any node can
// tell where to relay a request of it (sessionrelay.go).
func newPollSID(nodeID string) string {
	return newSID() + "." + base64.RawURLEncoding.EncodeToString([]byte(nodeID))
}

// sidOwner returns the node that owns a polling sid ("" when sid names none).
func sidOwner(sid string) string {
	i := strings.LastIndexByte(sid, '.')
	if i < 0 || len(sid) > 512 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(sid[i+1:])
	if err != nil {
		return ""
	}
	return string(b)
}

// httpReply is an answer to a polling request, built where the session lives and
// written where the request arrived.
type httpReply struct {
	Status int    `json:"s"`
	Body   []byte `json:"b,omitempty"`
	// Type is the Content-Type ("" for the JSON error bodies).
	Type string `json:"t,omitempty"`
}

func (rp httpReply) write(w http.ResponseWriter) {
	if rp.Type == "" && rp.Status != http.StatusOK && len(rp.Body) > 0 {
		rp.Type = "application/json"
	}
	if rp.Type != "" {
		w.Header().Set("Content-Type", rp.Type)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(rp.Body)))
	w.WriteHeader(rp.Status)
	_, _ = w.Write(rp.Body)
}

func payloadReply(body []byte) httpReply {
	return httpReply{Status: http.StatusOK, Body: body, Type: "text/plain; charset=UTF-8"}
}

var okReply = httpReply{Status: http.StatusOK, Body: []byte("ok"), Type: "text/html"}

// errorReply is an Engine.IO error answer: {"code":…,"message":…}.
func errorReply(status, code int, msg string) httpReply {
	return httpReply{Status: status, Body: []byte(`{"code":` + strconv.Itoa(code) + `,"message":` + strconv.Quote(msg) + `}`)}
}

var (
	unknownSID = errorReply(http.StatusBadRequest, 1, "Session ID unknown")
	badRequest = errorReply(http.StatusBadRequest, 3, "Bad request")
)

// pollSession is one Engine.IO session this node owns that was opened over long-polling.
// Its socket's packets are handled under mu (POSTs, and after an upgrade the WebSocket).
type pollSession struct {
	s    *Server
	sid  string
	conn *pollConn

	mu sync.Mutex
	k  *socket

	posting bool // a POST is being handled; guarded by conn.mu

	// Steps relayed by other nodes, run in order (sessionrelay.go).
	imu      sync.Mutex
	ifs      []func()
	irunning bool
	bridgeID string // the bridge holding the session's WebSocket on another node; inbox only
}

// pollConn is the session's transport: frames wait in a bounded queue until a poll takes
// them. After an upgrade, Send and Close go to the WebSocket (local) or the queue is
// pumped to the bridging node (sessionrelay.go).
type pollConn struct {
	qmax, qmaxBytes int
	onSlow          func()
	onClose         func(reason string)

	mu        sync.Mutex
	queue     [][]byte
	bytes     int
	notify    chan struct{} // a frame was queued or the session is upgrading
	done      chan struct{} // closed with the session
	polling   bool          // a GET waits
	upgrading bool          // a probe succeeded: polls answer noop (upgradeNoopEvery)
	noopSent  bool
	ws        transport // the local WebSocket after the upgrade
	bridged   bool      // upgraded to a WebSocket on another node
	closed    bool
	closeSent bool
	reason    string
	lastRecv  time.Time
	pingTimer *time.Timer
}

func (p *pollConn) Send(frame []byte) bool {
	p.mu.Lock()
	if w := p.ws; w != nil {
		p.mu.Unlock()
		return w.Send(frame)
	}
	if p.closed {
		p.mu.Unlock()
		return false
	}
	if len(p.queue) >= p.qmax || p.bytes+len(frame) > p.qmaxBytes {
		p.mu.Unlock()
		if p.onSlow != nil {
			p.onSlow()
		}
		p.Close("slow consumer")
		return false
	}
	p.queue = append(p.queue, frame)
	p.bytes += len(frame)
	p.mu.Unlock()
	p.wake()
	return true
}

func (p *pollConn) wake() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Close ends the session; the first reason wins. A waiting poll answers the close packet.
func (p *pollConn) Close(reason string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	w := p.ws
	if w != nil && w.Reason() != "" {
		reason = w.Reason()
	}
	p.closed, p.reason = true, reason
	if p.pingTimer != nil {
		p.pingTimer.Stop()
	}
	p.mu.Unlock()
	// The disconnect is counted before the client can see it (a waiting poll answers the
	// close once done is closed), as for a WebSocket.
	p.onClose(reason)
	close(p.done)
	if w != nil {
		w.Close(reason)
	}
}

func (p *pollConn) Reason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason
}

func (p *pollConn) touch() {
	p.mu.Lock()
	p.lastRecv = time.Now()
	p.mu.Unlock()
}

// take removes the queued frames (plus the close packet once the session is closed).
// Called with mu held.
func (p *pollConn) takeLocked() [][]byte {
	batch := p.queue
	p.queue, p.bytes = nil, 0
	if p.closed && !p.closeSent {
		p.closeSent = true
		batch = append(batch, []byte{byte(protocol.EngineClose)})
	}
	return batch
}

// upgradeNoopEvery: while an upgrade is under way every poll is answered (a noop when
// nothing is queued) this soon, as the reference server does. The client may poll again
// before it reads 3probe, and then holds its sends until that poll ends: a poll held until
// the next ping stalled the client's events for up to a ping interval.
const upgradeNoopEvery = 100 * time.Millisecond

// poll answers one GET: the queued packets joined by the record separator, waiting for
// some until ctx ends. gone tells a client that went away (the session closes, as in the
// reference server) from a relay's time limit (answered with a noop).
func (p *pollConn) poll(ctx context.Context, gone bool) httpReply {
	var upgradeTick *time.Timer
	defer func() {
		if upgradeTick != nil {
			upgradeTick.Stop()
		}
	}()
	p.mu.Lock()
	if p.polling {
		p.mu.Unlock()
		p.Close("poll overlap") // the waiting poll answers the close packet
		return errorReply(http.StatusBadRequest, 3, "Bad request")
	}
	if p.ws != nil || p.bridged {
		p.mu.Unlock()
		return badRequest
	}
	if p.closed && p.closeSent {
		p.mu.Unlock()
		return unknownSID
	}
	p.polling = true
	for {
		if p.ws != nil || p.bridged || (p.upgrading && !p.noopSent) {
			p.noopSent, p.polling = true, false
			p.mu.Unlock()
			return payloadReply([]byte{byte(protocol.EngineNoop)})
		}
		if len(p.queue) > 0 || p.closed {
			batch := p.takeLocked()
			p.polling = false
			p.mu.Unlock()
			return payloadReply(protocol.EncodePayload(batch))
		}
		var tick <-chan time.Time
		if p.upgrading {
			if upgradeTick == nil {
				upgradeTick = time.NewTimer(upgradeNoopEvery)
			}
			tick = upgradeTick.C
		}
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-p.done:
		case <-tick:
			p.mu.Lock()
			p.polling = false
			p.mu.Unlock()
			return payloadReply([]byte{byte(protocol.EngineNoop)})
		case <-ctx.Done():
			p.mu.Lock()
			p.polling = false
			p.mu.Unlock()
			if gone {
				p.Close("transport close")
				return httpReply{Status: http.StatusBadRequest}
			}
			return payloadReply([]byte{byte(protocol.EngineNoop)})
		}
		p.mu.Lock()
	}
}

// startPings queues an Engine.IO ping every pingInterval; a client that sent nothing
// for pingInterval+pingTimeout (its pong answers every ping) is closed.
func (ps *pollSession) startPings() {
	p, o := ps.conn, ps.s.opts
	tick := func() {
		p.mu.Lock()
		if p.closed || p.ws != nil {
			p.mu.Unlock()
			return
		}
		late := time.Since(p.lastRecv) > o.PingInterval+o.PingTimeout
		p.mu.Unlock()
		if late {
			p.Close("ping timeout")
			return
		}
		if p.Send(pingFrame) {
			p.mu.Lock()
			if !p.closed && p.ws == nil {
				p.pingTimer.Reset(o.PingInterval)
			}
			p.mu.Unlock()
		}
	}
	p.mu.Lock()
	p.pingTimer = time.AfterFunc(o.PingInterval, tick)
	p.mu.Unlock()
}

// pollSessions is the registry of the polling sessions this node owns.
type pollSessions struct {
	mu sync.Mutex
	m  map[string]*pollSession
}

func (r *pollSessions) get(sid string) *pollSession {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[sid]
}

func (r *pollSessions) put(ps *pollSession) {
	r.mu.Lock()
	r.m[ps.sid] = ps
	r.mu.Unlock()
}

func (r *pollSessions) remove(ps *pollSession) {
	r.mu.Lock()
	if r.m[ps.sid] == ps {
		delete(r.m, ps.sid)
	}
	r.mu.Unlock()
}

// servePollingHandshake opens a session over long-polling (GET without sid).
func (s *Server) servePollingHandshake(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		engineError(w, http.StatusBadRequest, 2, "Bad handshake method")
		return
	}
	ip := s.caps.clientIP(r)
	if !s.admit(w, ip) {
		return
	}
	ps := s.newPollSession(auth.FromRequest(r, s.opts.CookieName), r.RemoteAddr, ip)
	s.m.PollingRequests.WithLabelValues("GET", "200").Inc()
	payloadReply(s.openPacket(ps.sid, []string{"websocket"})).write(w)
}

func (s *Server) newPollSession(creds auth.Credentials, remote string, ip netip.Addr) *pollSession {
	sid := newPollSID(s.opts.Hub.NodeID())
	ps := &pollSession{s: s, sid: sid}
	ps.conn = &pollConn{
		qmax: s.opts.SendQueue, qmaxBytes: s.opts.SendQueueBytes,
		onSlow: func() { s.m.SlowConsumers.Inc() },
		notify: make(chan struct{}, 1), done: make(chan struct{}), lastRecv: time.Now(),
	}
	ps.k = &socket{s: s, c: ps.conn, sid: sid, ip: ip, creds: creds, why: hub.DisconnectLost,
		connectBy: time.Now().Add(s.opts.ConnectTimeout),
		log:       newConnLog(s.log, "sid", sid, "remote", remote, "transport", "polling")}
	ps.conn.onClose = func(reason string) {
		s.m.Disconnects.WithLabelValues(disconnectLabel(reason)).Inc()
		go ps.end()
	}
	s.conns.add()
	s.m.PollingSessions.Inc()
	s.polls.put(ps)
	ps.startPings()
	time.AfterFunc(s.opts.ConnectTimeout, func() {
		ps.mu.Lock()
		authed := ps.k.sess != nil
		ps.mu.Unlock()
		if !authed {
			ps.conn.Close("connect timeout")
		}
	})
	return ps
}

// end runs once the session closed: the hub session ends at once; the sid stays known
// for a moment so that the client's next poll still gets what was queued and the close
// packet.
func (ps *pollSession) end() {
	s := ps.s
	ps.mu.Lock()
	ps.k.end()
	ps.mu.Unlock()
	ps.conn.mu.Lock()
	upgraded := ps.conn.ws != nil || ps.conn.bridged
	ps.conn.mu.Unlock()
	if !upgraded {
		s.m.PollingSessions.Dec()
	}
	s.conns.done()
	time.AfterFunc(min(s.opts.PingTimeout, 5*time.Second), func() { s.polls.remove(ps) })
}

// servePoll answers a GET of a session this node owns; ctx ends with the client's request.
func (ps *pollSession) servePoll(ctx context.Context) httpReply {
	rp := ps.conn.poll(ctx, true)
	ps.s.m.PollingRequests.WithLabelValues("GET", strconv.Itoa(rp.Status)).Inc()
	return rp
}

// readPost reads a POST body, at most limit bytes; too large reports false.
func readPost(r *http.Request, limit int64) ([]byte, bool, error) {
	if r.ContentLength > limit {
		return nil, false, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, true, err
	}
	return body, int64(len(body)) <= limit, nil
}

// servePost handles the packets of one POST of a session this node owns.
func (ps *pollSession) servePost(body []byte, tooLarge bool) httpReply {
	rp := ps.post(body, tooLarge)
	ps.s.m.PollingRequests.WithLabelValues("POST", strconv.Itoa(rp.Status)).Inc()
	return rp
}

func (ps *pollSession) post(body []byte, tooLarge bool) httpReply {
	p := ps.conn
	if tooLarge {
		// maxHttpBufferSize: 413, and the session closes (the reference client's transport
		// errors and reconnects).
		p.Close("payload too large")
		return httpReply{Status: http.StatusRequestEntityTooLarge}
	}
	p.mu.Lock()
	switch {
	case p.ws != nil || p.bridged:
		p.mu.Unlock()
		return badRequest
	case p.closed:
		p.mu.Unlock()
		return unknownSID
	case ps.posting:
		p.mu.Unlock()
		p.Close("post overlap")
		return badRequest
	}
	ps.posting = true
	p.lastRecv = time.Now()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		ps.posting = false
		p.mu.Unlock()
	}()
	ps.handle(body)
	return okReply
}

// handle processes the packets of one payload in order, under the session's lock.
func (ps *pollSession) handle(payload []byte) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, pkt := range protocol.DecodePayload(payload) {
		if len(pkt) > 0 && pkt[0] == 'b' {
			ps.conn.Close("binary frame") // text packets only, as over WebSocket
			return
		}
		if !ps.k.handlePacket(pkt) {
			return
		}
	}
}
