// Requests of an existing session (sid): polls, POSTs and the upgrade to WebSocket
// (2probe / 3probe / noop on the poll / 5) of a session this node owns.

package server

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// upgradeTimeout bounds the probe: the client must send 5 this long after the upgrade.
const upgradeTimeout = 10 * time.Second

var (
	probeIn  = []byte("2probe")
	probeOut = []byte("3probe")
)

// serveSession routes a request of session sid to its owner: this node or, through the
// bus, another (sessionrelay.go).
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, tr, sid string) {
	isWS := tr == "websocket"
	if isWS != websocket.IsWebSocketUpgrade(r) || (!isWS && r.Method != http.MethodGet && r.Method != http.MethodPost) {
		badRequest.write(w)
		return
	}
	owner := sidOwner(sid)
	if owner == "" {
		unknownSID.write(w)
		return
	}
	if owner != s.opts.Hub.NodeID() {
		if isWS {
			s.serveBridge(w, r, owner, sid)
		} else {
			s.relayRequest(w, r, owner, sid)
		}
		return
	}
	ps := s.polls.get(sid)
	if ps == nil {
		unknownSID.write(w)
		return
	}
	switch {
	case isWS:
		s.serveUpgrade(w, r, ps)
	case r.Method == http.MethodGet:
		ps.servePoll(r.Context()).write(w)
	default:
		body, ok, err := readPost(r, s.opts.MaxPayload)
		if err != nil {
			badRequest.write(w)
			return
		}
		ps.servePost(body, !ok).write(w)
	}
}

// serveUpgrade takes a local polling session over to a WebSocket.
func (s *Server) serveUpgrade(w http.ResponseWriter, r *http.Request, ps *pollSession) {
	if !ps.conn.canUpgrade() {
		badRequest.write(w)
		return
	}
	ws, err := s.upgrader.Upgrade(coalescingHijacker{w}, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(s.opts.MaxPayload)
	go s.runUpgrade(ps, ws)
}

// runUpgrade answers the probe, switches the session to ws on 5, then reads it.
func (s *Server) runUpgrade(ps *pollSession, ws *websocket.Conn) {
	c := newWSConn(ws, s.opts.SendQueue, s.opts.SendQueueBytes, s.opts.PingInterval, s.opts.WriteTimeout, func() { s.m.SlowConsumers.Inc() })
	_ = ws.SetReadDeadline(time.Now().Add(upgradeTimeout))
	failed := func(why string) {
		c.Close("upgrade failed")
		ps.conn.abortUpgrade() // the session goes on polling
		ps.logDebug("upgrade to websocket failed; polling goes on", "why", why)
	}
	for upgraded := false; !upgraded; {
		mt, frame, err := ws.ReadMessage()
		if err != nil {
			failed(err.Error())
			return
		}
		if mt != websocket.TextMessage {
			failed("binary frame")
			return
		}
		switch {
		case string(frame) == string(probeIn):
			c.Send(probeOut)
			ps.conn.startUpgrade()
		case len(frame) == 1 && frame[0] == byte(protocol.EngineUpgrade) && ps.conn.isUpgrading():
			if !ps.conn.upgradeTo(c) {
				c.Close("upgrade failed") // the session closed meanwhile
				return
			}
			s.m.PollingSessions.Dec()
			c.startPings()
			upgraded = true
			ps.logDebug("upgraded to websocket")
		default:
			failed("unexpected packet during the probe")
			return
		}
	}
	k := ps.k
	for {
		ps.mu.Lock()
		dl := k.readDeadline()
		ps.mu.Unlock()
		_ = ws.SetReadDeadline(dl)
		mt, frame, err := ws.ReadMessage()
		ps.mu.Lock()
		if err != nil {
			k.readFailed(err)
			ps.mu.Unlock()
			return
		}
		ok := k.handle(mt, frame)
		ps.mu.Unlock()
		if !ok {
			return
		}
	}
}

func (p *pollConn) canUpgrade() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && p.ws == nil && !p.bridged
}

// startUpgrade: a probe succeeded; the waiting (or next) poll answers noop so that the
// client can send 5 on the new transport.
func (p *pollConn) startUpgrade() {
	p.mu.Lock()
	p.upgrading = true
	p.mu.Unlock()
	p.wake()
}

// abortUpgrade: the probe's WebSocket failed before 5; polls are long again.
func (p *pollConn) abortUpgrade() {
	p.mu.Lock()
	if p.ws == nil && !p.bridged {
		p.upgrading, p.noopSent = false, false
	}
	p.mu.Unlock()
}

func (p *pollConn) isUpgrading() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upgrading && !p.closed && p.ws == nil && !p.bridged
}

// upgradeTo moves the queued frames, in order, to the WebSocket c; from now on Send and
// Close go there. False when the session closed meanwhile.
func (p *pollConn) upgradeTo(c *wsConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, f := range p.queue {
		c.Send(f)
	}
	p.queue, p.bytes = nil, 0
	p.ws = c
	if p.pingTimer != nil {
		p.pingTimer.Stop()
	}
	p.wakeLocked()
	return true
}

func (p *pollConn) wakeLocked() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// logDebug logs on the session's logger (which the CONNECT replaces under mu).
func (ps *pollSession) logDebug(msg string, args ...any) {
	ps.mu.Lock()
	l := ps.k.log
	ps.mu.Unlock()
	l.Debug(msg, args...)
}
