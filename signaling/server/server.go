// Package server is the node's HTTP face: the Socket.IO endpoint over WebSocket, health
// and readiness probes on the client port, and metrics on a listener of their own.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// Options configure a Server.
type Options struct {
	Hub            *hub.Hub
	Verifier       *auth.Verifier
	Revocations    auth.RevocationList // revoked jtis are refused (--revocation); nil: off
	Metrics        *metrics.Metrics
	Logger         *slog.Logger
	CookieName     string        // token cookie, default "access_token"
	AllowedOrigins []string      // "*" allows any Origin; empty = the node's own origin only
	PingInterval   time.Duration // default 25 s
	PingTimeout    time.Duration // default 20 s
	MaxPayload     int64         // largest WebSocket frame, default 1,000,000 bytes
	SendQueue      int           // frames queued per connection before it counts as slow, default 256
	SendQueueBytes int           // bytes queued per connection before it counts as slow, default 4 MiB
	WriteTimeout   time.Duration // default 10 s
	// ConnectTimeout: an authenticated CONNECT must arrive this long after the upgrade at the
	// latest (default 10 s). The deadline is absolute: pongs and other frames do not move it.
	ConnectTimeout time.Duration
	// Connection caps (0 = unlimited): WebSocket connections on this node and from one
	// client IP (refused before the upgrade), authenticated sockets of one user (refused at
	// CONNECT). The client IP is the peer's, or from X-Forwarded-For when the peer is in
	// TrustedProxies.
	MaxConnections        int
	MaxConnectionsPerIP   int
	MaxConnectionsPerUser int
	TrustedProxies        []netip.Prefix
	// Extra routes (e.g. the demo page) are added by the caller on Mux().
}

func (o *Options) withDefaults() {
	if o.CookieName == "" {
		o.CookieName = "access_token"
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 20 * time.Second
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 1_000_000
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	if o.SendQueueBytes <= 0 {
		o.SendQueueBytes = 4 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Server serves one node.
type Server struct {
	opts     Options
	log      *slog.Logger
	m        *metrics.Metrics
	mux      *http.ServeMux
	upgrader websocket.Upgrader
	origins  map[string]bool
	anyOrig  bool

	draining atomic.Bool
	// RetryAfter is what refused upgrades tell clients while draining.
	retryAfter time.Duration

	conns openConns // open WebSocket handlers, polling sessions and bridges
	caps  *connCaps
	polls pollSessions // the polling sessions this node owns
	relay relays       // requests relayed to other nodes, WebSockets bridged for them
}

// New builds the server and its routes.
func New(opts Options) *Server {
	opts.withDefaults()
	s := &Server{opts: opts, log: opts.Logger, m: opts.Metrics, mux: http.NewServeMux(), origins: map[string]bool{}, retryAfter: 5 * time.Second,
		caps: newConnCaps(opts), polls: pollSessions{m: map[string]*pollSession{}}, relay: newRelays()}
	for _, o := range opts.AllowedOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			s.anyOrig = true
		} else if o != "" {
			s.origins[strings.ToLower(o)] = true
		}
	}
	s.upgrader = websocket.Upgrader{
		// 0: gorilla reads through the reader coalescingHijacker hands it (1 KiB, and
		// visible to the read loop) instead of allocating its own; net/http's 4 KiB one,
		// which would keep its per-connection state alive, is dropped (see serveSocketIO).
		ReadBufferSize:  0,
		WriteBufferPool: &sync.Pool{},
		// The Origin allow-list is checked before Upgrade is called.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.mux.HandleFunc("/socket.io/", s.serveSocketIO)
	opts.Hub.OnTransport(s.onTransport)
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	s.mux.HandleFunc("/readyz", s.serveReady)
	return s
}

// MetricsHandler serves /metrics of m. It belongs on its own listener (--metrics-listen),
// not on the client port: metrics name rooms, versions and failure counts that clients on
// the internet have no business reading.
func MetricsHandler(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	return mux
}

// Mux exposes the route table so callers can add pages (e.g. /demo).
func (s *Server) Mux() *http.ServeMux { return s.mux }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetDraining makes /readyz fail and refuses new upgrades with 503 + Retry-After.
func (s *Server) SetDraining(retryAfter time.Duration) {
	s.retryAfter = retryAfter
	s.draining.Store(true)
}

// Wait blocks until every WebSocket handler has returned or ctx ends.
func (s *Server) Wait(ctx context.Context) error {
	return s.conns.wait(ctx)
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		writeText(w, http.StatusServiceUnavailable, "draining")
		return
	}
	if err := s.opts.Hub.Ready(); err != nil {
		writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "ok")
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// engineError answers a handshake request the way Socket.IO servers do.
func engineError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg})
}

// originAllowed is the defence against cross-site WebSocket hijacking: a browser sends
// the token cookie with an upgrade started by any web page, so only listed origins may
// upgrade. With no list (a --dev node) only pages the node serves itself (/demo) may: the
// Origin's host must be the request's Host. Clients that are not browsers send no Origin.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || s.anyOrig {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if len(s.origins) == 0 {
		return strings.EqualFold(u.Host, r.Host)
	}
	return s.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

func (s *Server) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		engineError(w, http.StatusBadRequest, 5, "Unsupported protocol version")
		return
	}
	tr, sid := q.Get("transport"), q.Get("sid")
	if tr != "polling" && tr != "websocket" {
		engineError(w, http.StatusBadRequest, 0, "Transport unknown")
		return
	}
	if sid == "" && tr == "websocket" {
		s.serveWebSocket(w, r)
		return
	}
	// Long-polling, or the upgrade of a session opened over it (polling.go, upgrade.go;
	// sessionrelay.go when another node owns the session).
	if !s.checkOrigin(w, r) {
		return
	}
	s.setCORS(w, r)
	if r.Method == http.MethodOptions {
		s.servePreflight(w, r)
		return
	}
	if sid == "" {
		if s.refuseDraining(w) {
			return
		}
		s.servePollingHandshake(w, r)
		return
	}
	s.serveSession(w, r, tr, sid)
}

// refuseDraining answers 503 + Retry-After while the node drains.
func (s *Server) refuseDraining(w http.ResponseWriter) bool {
	if !s.draining.Load() {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((s.retryAfter+time.Second-1)/time.Second)))
	engineError(w, http.StatusServiceUnavailable, 3, "Server draining; reconnect to another node")
	return true
}

// checkOrigin refuses (403) a request whose Origin is not allowed.
func (s *Server) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	if s.originAllowed(r) {
		return true
	}
	s.m.AuthFailures.WithLabelValues("origin").Inc()
	s.log.Info("refused a request from a foreign origin", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
	engineError(w, http.StatusForbidden, 4, "Forbidden")
	return false
}

// admit reserves a connection slot for a new session from ip, or answers the refusal.
func (s *Server) admit(w http.ResponseWriter, ip netip.Addr) bool {
	refused := s.caps.admit(ip)
	if refused == "" {
		return true
	}
	s.m.ConnectionsRefused.WithLabelValues(refused).Inc()
	if refused == "node_full" {
		w.Header().Set("Retry-After", "5")
		engineError(w, http.StatusServiceUnavailable, 3, "Server full; try again later")
	} else {
		engineError(w, http.StatusTooManyRequests, 3, "Too many connections from this address")
	}
	return false
}

// serveWebSocket opens a session directly over WebSocket.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		engineError(w, http.StatusBadRequest, 3, "Bad request")
		return
	}
	if s.refuseDraining(w) || !s.checkOrigin(w, r) {
		return
	}
	ip := s.caps.clientIP(r)
	if !s.admit(w, ip) {
		return
	}
	creds := auth.FromRequest(r, s.opts.CookieName)
	ws, err := s.upgrader.Upgrade(coalescingHijacker{w}, r, nil)
	if err != nil {
		s.caps.release(ip)
		return // the upgrader already answered
	}
	s.conns.add()
	ws.SetReadLimit(s.opts.MaxPayload)
	// Serve the socket on a goroutine of its own and return: net/http then lets go of
	// what it holds per connection while its handler runs (4 KiB read and 4 KiB write
	// buffers, the request and response) and of the handler's grown stack — about half
	// of an idle connection's memory.
	go s.serveConn(ws, creds, r.RemoteAddr, ip)
}

func newSID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// serveConn runs one connection's read loop.
//
// The loop itself is kept small and the frame handling lives in (*socket).handle: an
// idle connection waits on this goroutine's stack (in waitReadable), and the runtime only
// shrinks a stack (at GC) to one that the waiting frames fill less than a quarter of. A
// large serveConn frame kept every idle reader at 8 KiB instead of 4 KiB.
func (s *Server) serveConn(ws *websocket.Conn, creds auth.Credentials, remote string, ip netip.Addr) {
	defer s.conns.done()
	k := s.newSocket(ws, creds, remote, ip)
	defer k.end()
	var lastFrame time.Time
	gap := time.Duration(math.MaxInt64) // between the last two frames
	for {
		_ = ws.SetReadDeadline(k.readDeadline())
		// A busy connection reads on (the shallow wait costs a system call per frame);
		// one whose frames come seconds apart (heartbeats, pongs) waits where its stack
		// can shrink.
		if gap > shallowWaitAfter {
			if err := k.ws.waitReadable(); err != nil {
				k.readFailed(err)
				return
			}
		}
		mt, frame, err := ws.ReadMessage()
		if err != nil {
			k.readFailed(err)
			return
		}
		now := time.Now()
		gap, lastFrame = now.Sub(lastFrame), now
		if !k.handle(mt, frame) {
			return
		}
	}
}

// shallowWaitAfter: a connection whose last two frames came further apart than this waits
// for the next one with waitReadable.
const shallowWaitAfter = time.Second

// transport is what a socket sends through: a WebSocket (wsConn) or a long-polling
// session (pollConn, which forwards to its WebSocket once upgraded).
type transport interface {
	Send(frame []byte) bool
	Close(reason string)
	Reason() string
}

// socket is one connection's Engine.IO/Socket.IO state, owned by its read loop (a
// polling session serialises its callers with pollSession.mu).
type socket struct {
	s              *Server
	c              transport
	ws             *wsConn    // the WebSocket of a socket opened over WebSocket; nil for polling
	ip             netip.Addr // the client IP its connection counts against
	sid            string
	log            connLog
	creds          auth.Credentials
	sess           *hub.Session // nil until a CONNECT is authenticated
	connectBy      time.Time    // the absolute CONNECT deadline (from the upgrade)
	why            hub.DisconnectReason
	failedConnects int
}

func (s *Server) newSocket(ws *websocket.Conn, creds auth.Credentials, remote string, ip netip.Addr) *socket {
	sid := newSID()
	k := &socket{s: s, sid: sid, ip: ip, creds: creds, why: hub.DisconnectLost,
		connectBy: time.Now().Add(s.opts.ConnectTimeout),
		log:       newConnLog(s.log, "sid", sid, "remote", remote)}
	k.ws = s.newWSConn(ws)
	k.c = k.ws
	k.ws.startPings()
	k.c.Send(s.openPacket(sid, []string{}))
	return k
}

func (s *Server) newWSConn(ws *websocket.Conn) *wsConn {
	c := newWSConn(ws, s.opts.SendQueue, s.opts.SendQueueBytes, s.opts.PingInterval, s.opts.WriteTimeout, func() { s.m.SlowConsumers.Inc() })
	c.onClose = func(reason string) { s.m.Disconnects.WithLabelValues(disconnectLabel(reason)).Inc() }
	return c
}

// openPacket is the Engine.IO open packet of session sid.
func (s *Server) openPacket(sid string, upgrades []string) []byte {
	open, _ := json.Marshal(protocol.OpenPacket{
		SID: sid, Upgrades: upgrades,
		PingInterval: s.opts.PingInterval.Milliseconds(), PingTimeout: s.opts.PingTimeout.Milliseconds(),
		MaxPayload: s.opts.MaxPayload,
	})
	return append([]byte{byte(protocol.EngineOpen)}, open...)
}

// readDeadline: before authentication the fixed CONNECT deadline, so a token-less socket
// that answers pings is still closed; afterwards the ping deadline, moved by every frame.
func (k *socket) readDeadline() time.Time {
	if k.sess == nil {
		return k.connectBy
	}
	return time.Now().Add(k.s.opts.PingInterval + k.s.opts.PingTimeout)
}

// end closes the transport and ends the hub session, if any.
func (k *socket) end() {
	k.c.Close("closed")
	reason := k.c.Reason()
	k.s.caps.release(k.ip)
	if k.sess != nil {
		k.s.caps.releaseUser(k.sess.User.UserID)
		k.s.opts.Hub.Disconnect(k.sess, k.why)
		k.log.Debug("session ended", "reason", reason) // the logger carries the user since CONNECT
	}
}

func (k *socket) readFailed(err error) {
	c := k.c
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		c.Close("payload too large")
	case isTimeout(err) && c.Reason() == "":
		if k.sess == nil {
			c.Close("connect timeout")
		} else {
			c.Close("ping timeout")
		}
	default:
		c.Close("transport close")
	}
}

// handle processes one WebSocket message; false ends the connection (it is closed).
func (k *socket) handle(mt int, frame []byte) bool {
	if mt != websocket.TextMessage {
		k.c.Close("binary frame")
		return false
	}
	return k.handlePacket(frame)
}

// handlePacket processes one Engine.IO packet (a WebSocket text frame or one record of a
// long-polling payload); false ends the connection (it is closed).
func (k *socket) handlePacket(frame []byte) bool {
	s, c := k.s, k.c
	typ, data, err := protocol.ParseEngine(frame)
	if err != nil {
		c.Close("parse error")
		return false
	}
	switch typ {
	case protocol.EnginePong, protocol.EngineNoop:
		return true
	case protocol.EnginePing: // clients do not ping in v4, but answering is harmless
		c.Send([]byte{byte(protocol.EnginePong)})
		return true
	case protocol.EngineClose:
		k.why = hub.DisconnectClient
		c.Close("client close")
		return false
	case protocol.EngineMessage:
	default:
		c.Close("parse error")
		return false
	}
	p, err := protocol.ParsePacket(data)
	if err != nil {
		k.log.Debug("malformed packet", "err", err)
		c.Close("parse error")
		return false
	}
	if k.sess == nil && p.Type != protocol.Connect {
		// Before authentication only CONNECT is accepted (whatever the namespace).
		c.Close("packet before connect")
		return false
	}
	if p.Namespace != "/" {
		if p.Type == protocol.Connect {
			c.Send(protocol.ConnectErrorFrame(p.Namespace, "Invalid namespace"))
		}
		return true
	}
	switch p.Type {
	case protocol.Connect:
		if k.sess != nil {
			return true // already connected; ignore a duplicate CONNECT
		}
		id, src, err := s.authenticate(k.creds, p.Data)
		if err != nil {
			s.m.AuthFailures.WithLabelValues(src).Inc()
			k.log.Info("authentication failed", "source", src, "err", err)
			c.Send(protocol.ConnectErrorFrame("/", "Authentication error"))
			if k.failedConnects++; k.failedConnects >= 3 {
				c.Close("authentication failed")
				return false
			}
			return true
		}
		if !s.caps.admitUser(id.UserID) {
			s.m.ConnectionsRefused.WithLabelValues("user_limit").Inc()
			k.log.Info("refused a connection: the user has too many", "user", id.UserID)
			c.Send(protocol.ConnectErrorFrame("/", "Too many connections"))
			c.Close("user limit")
			return false
		}
		k.sess = &hub.Session{ID: k.sid, User: id}
		k.log = k.log.With("user", id.UserID)
		// The hub answers the CONNECT (with the recovery pid, then any missed events).
		s.opts.Hub.Open(k.sess, c, resumeOf(p.Data))
	case protocol.Disconnect:
		k.why = hub.DisconnectClient
		c.Close("client disconnect")
		return false
	case protocol.Event:
		name, args, err := p.Event()
		if err != nil {
			k.log.Debug("malformed event", "err", err)
			c.Close("parse error")
			return false
		}
		s.opts.Hub.HandleEvent(k.sess, name, args, p.ID)
	case protocol.Ack, protocol.ConnectError:
		// The server never asks clients for acks; ignore.
	}
	return true
}

// authenticate verifies the first token found (cookie, CONNECT auth, header).
func (s *Server) authenticate(creds auth.Credentials, connectData json.RawMessage) (auth.Identity, string, error) {
	if len(connectData) > 0 {
		var a struct {
			Token any `json:"token"`
		}
		if json.Unmarshal(connectData, &a) == nil {
			if t, ok := a.Token.(string); ok {
				creds.Auth = t
			}
		}
	}
	token, src := creds.Token()
	// The revocation lookup is bounded: this runs on the connection's reader.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	id, err := auth.Checker{Verifier: s.opts.Verifier, Revocations: s.opts.Revocations}.Check(ctx, token)
	return id, src, err
}

// resumeOf reads connection-state recovery's {pid, offset} from a CONNECT's auth
// object (socket.io-client adds them when it reconnects after a reply that had a pid).
// Values of the wrong type are ignored: the client gets a fresh session.
func resumeOf(connectData json.RawMessage) hub.Resume {
	var a struct {
		PID    any `json:"pid"`
		Offset any `json:"offset"`
	}
	if len(connectData) == 0 || json.Unmarshal(connectData, &a) != nil {
		return hub.Resume{}
	}
	var r hub.Resume
	r.PID, _ = a.PID.(string)
	r.Offset, r.HasOffset = a.Offset.(string)
	return r
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// disconnectLabel keeps the metric's label set small and fixed.
func disconnectLabel(reason string) string {
	switch reason {
	case "ping timeout", "transport close", "client close", "client disconnect", "slow consumer",
		"payload too large", "binary frame", "parse error", "authentication failed", "connect timeout",
		"server shutdown", "server draining", "write error", "packet before connect", "user limit",
		"token expired":
		return strings.ReplaceAll(reason, " ", "_")
	}
	return "other"
}
