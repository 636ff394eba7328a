// Package server is the node's HTTP face: the Socket.IO endpoint over WebSocket, health
// and readiness probes, and metrics.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
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
	Metrics        *metrics.Metrics
	Logger         *slog.Logger
	CookieName     string        // token cookie, default "access_token"
	AllowedOrigins []string      // empty = any Origin; "*" allows all
	PingInterval   time.Duration // default 25 s
	PingTimeout    time.Duration // default 20 s
	MaxPayload     int64         // largest WebSocket frame, default 1,000,000 bytes
	SendQueue      int           // frames queued per connection before it counts as slow, default 256
	WriteTimeout   time.Duration // default 10 s
	ConnectTimeout time.Duration // time to send CONNECT after the upgrade, default 45 s
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
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 45 * time.Second
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

	conns sync.WaitGroup // open WebSocket handlers
}

// New builds the server and its routes.
func New(opts Options) *Server {
	opts.withDefaults()
	s := &Server{opts: opts, log: opts.Logger, m: opts.Metrics, mux: http.NewServeMux(), origins: map[string]bool{}, retryAfter: 5 * time.Second}
	for _, o := range opts.AllowedOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			s.anyOrig = true
		} else if o != "" {
			s.origins[strings.ToLower(o)] = true
		}
	}
	if len(s.origins) == 0 {
		s.anyOrig = true
	}
	s.upgrader = websocket.Upgrader{
		// Not 0: gorilla then reads through its own 1 KiB buffer rather than net/http's
		// 4 KiB one, which would keep net/http's whole per-connection state alive (see
		// serveSocketIO).
		ReadBufferSize:  1024,
		WriteBufferPool: &sync.Pool{},
		// The Origin allow-list is checked before Upgrade is called.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.mux.HandleFunc("/socket.io/", s.serveSocketIO)
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	s.mux.HandleFunc("/readyz", s.serveReady)
	s.mux.Handle("/metrics", promhttp.HandlerFor(opts.Metrics.Registry, promhttp.HandlerOpts{}))
	return s
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
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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

func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || s.anyOrig {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return s.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

func (s *Server) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		engineError(w, http.StatusBadRequest, 5, "Unsupported protocol version")
		return
	}
	if q.Get("transport") != "websocket" || !websocket.IsWebSocketUpgrade(r) {
		// Long-polling is not offered (upgrades: []); answer as Socket.IO servers do.
		engineError(w, http.StatusBadRequest, 3, "Bad request")
		return
	}
	if s.draining.Load() {
		w.Header().Set("Retry-After", strconv.Itoa(int((s.retryAfter+time.Second-1)/time.Second)))
		engineError(w, http.StatusServiceUnavailable, 3, "Server draining; reconnect to another node")
		return
	}
	if !s.originAllowed(r) {
		s.m.AuthFailures.WithLabelValues("origin").Inc()
		s.log.Info("refused upgrade from a foreign origin", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		engineError(w, http.StatusForbidden, 4, "Forbidden")
		return
	}
	creds := auth.FromRequest(r, s.opts.CookieName)
	ws, err := s.upgrader.Upgrade(coalescingHijacker{w}, r, nil)
	if err != nil {
		return // the upgrader already answered
	}
	s.conns.Add(1)
	ws.SetReadLimit(s.opts.MaxPayload)
	// Serve the socket on a goroutine of its own and return: net/http then lets go of
	// what it holds per connection while its handler runs (4 KiB read and 4 KiB write
	// buffers, the request and response) and of the handler's grown stack — about half
	// of an idle connection's memory.
	remote := r.RemoteAddr
	go func() {
		defer s.conns.Done()
		s.serveConn(ws, creds, remote)
	}()
}

func newSID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// serveConn runs one connection's read loop.
func (s *Server) serveConn(ws *websocket.Conn, creds auth.Credentials, remote string) {
	sid := newSID()
	log := s.log.With("sid", sid, "remote", remote)
	c := newWSConn(ws, s.opts.SendQueue, s.opts.PingInterval, s.opts.WriteTimeout, func() { s.m.SlowConsumers.Inc() })
	c.onClose = func(reason string) { s.m.Disconnects.WithLabelValues(disconnectLabel(reason)).Inc() }
	go c.writeLoop()

	open, _ := json.Marshal(protocol.OpenPacket{
		SID: sid, Upgrades: []string{},
		PingInterval: s.opts.PingInterval.Milliseconds(), PingTimeout: s.opts.PingTimeout.Milliseconds(),
		MaxPayload: s.opts.MaxPayload,
	})
	c.Send(append([]byte{byte(protocol.EngineOpen)}, open...))

	var sess *hub.Session
	why := hub.DisconnectLost
	failedConnects := 0
	readDeadline := func() time.Time {
		if sess == nil {
			return time.Now().Add(s.opts.ConnectTimeout)
		}
		return time.Now().Add(s.opts.PingInterval + s.opts.PingTimeout)
	}
	defer func() {
		c.Close("closed")
		reason := c.Reason()
		if sess != nil {
			s.opts.Hub.Disconnect(sess, why)
			log.Debug("session ended", "user", sess.User.UserID, "reason", reason)
		}
	}()

	for {
		_ = ws.SetReadDeadline(readDeadline())
		mt, frame, err := ws.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				c.Close("payload too large")
			case isTimeout(err) && c.Reason() == "":
				if sess == nil {
					c.Close("connect timeout")
				} else {
					c.Close("ping timeout")
				}
			default:
				c.Close("transport close")
			}
			return
		}
		if mt != websocket.TextMessage {
			c.Close("binary frame")
			return
		}
		typ, data, err := protocol.ParseEngine(frame)
		if err != nil {
			c.Close("parse error")
			return
		}
		switch typ {
		case protocol.EnginePong, protocol.EngineNoop:
			continue
		case protocol.EnginePing: // clients do not ping in v4, but answering is harmless
			c.Send([]byte{byte(protocol.EnginePong)})
			continue
		case protocol.EngineClose:
			why = hub.DisconnectClient
			c.Close("client close")
			return
		case protocol.EngineMessage:
		default:
			c.Close("parse error")
			return
		}
		p, err := protocol.ParsePacket(data)
		if err != nil {
			log.Debug("malformed packet", "err", err)
			c.Close("parse error")
			return
		}
		if p.Namespace != "/" {
			if p.Type == protocol.Connect {
				c.Send(protocol.ConnectErrorFrame(p.Namespace, "Invalid namespace"))
			}
			continue
		}
		switch p.Type {
		case protocol.Connect:
			if sess != nil {
				continue // already connected; ignore a duplicate CONNECT
			}
			id, src, err := s.authenticate(creds, p.Data)
			if err != nil {
				s.m.AuthFailures.WithLabelValues(src).Inc()
				log.Info("authentication failed", "source", src, "err", err)
				c.Send(protocol.ConnectErrorFrame("/", "Authentication error"))
				if failedConnects++; failedConnects >= 3 {
					c.Close("authentication failed")
					return
				}
				continue
			}
			sess = &hub.Session{ID: sid, User: id}
			log = log.With("user", id.UserID)
			s.opts.Hub.Connect(sess, c)
			c.Send(protocol.ConnectFrame(sid))
		case protocol.Disconnect:
			why = hub.DisconnectClient
			c.Close("client disconnect")
			return
		case protocol.Event:
			if sess == nil {
				c.Close("event before connect")
				return
			}
			name, args, err := protocol.ParseEvent(p.Data)
			if err != nil {
				log.Debug("malformed event", "err", err)
				c.Close("parse error")
				return
			}
			s.opts.Hub.HandleEvent(sess, name, args, p.ID)
		case protocol.Ack, protocol.ConnectError:
			// The server never asks clients for acks; ignore.
		}
	}
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
	id, err := s.opts.Verifier.Verify(token)
	return id, src, err
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
		"server shutdown", "server draining", "write error", "event before connect":
		return strings.ReplaceAll(reason, " ", "_")
	}
	return "other"
}
