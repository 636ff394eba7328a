// Token lifetime on open sockets (docs/security.md §Token lifetime): token_expiring ahead
// of `exp`, refresh_token, and the end of a session whose token ran out.

package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// TokenChecker verifies a refresh_token's token exactly as a CONNECT token is verified
// (signature, claims, revocation).
type TokenChecker interface {
	Check(ctx context.Context, token string) (auth.Identity, error)
}

// tokenLife is a session's token clock; guarded by Session.mu.
type tokenLife struct {
	expiresAt time.Time
	timer     *time.Timer
	gen       uint64 // bumped on every re-arm; a timer of an older generation does nothing
	over      bool   // the session ended or its token expired: nothing more to schedule
}

// armTokenLife (re)starts the clock of s for a token expiring at exp: token_expiring
// TokenRefreshLead before it, the end of the session TokenExpiryGrace after it. A zero exp
// (sessions made without a verified token) schedules nothing.
func (h *Hub) armTokenLife(s *Session, exp time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.life
	if l.over {
		return
	}
	if l.timer != nil {
		l.timer.Stop()
	}
	l.gen++
	l.expiresAt, l.timer = exp, nil
	if exp.IsZero() {
		return
	}
	gen := l.gen
	if h.opts.TokenRefreshLead > 0 {
		l.timer = time.AfterFunc(time.Until(exp.Add(-h.opts.TokenRefreshLead)), func() { h.tokenExpiring(s, gen) })
	} else {
		l.timer = time.AfterFunc(time.Until(exp.Add(h.opts.TokenExpiryGrace)), func() { h.tokenExpired(s, gen) })
	}
}

// stopTokenLife ends the clock of a session that ended.
func stopTokenLife(s *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.life.over = true
	if s.life.timer != nil {
		s.life.timer.Stop()
		s.life.timer = nil
	}
}

type tokenExpiring struct {
	ExpiresAt int64 `json:"expiresAt"` // Unix milliseconds
	InMs      int64 `json:"inMs"`
}

func (h *Hub) tokenExpiring(s *Session, gen uint64) {
	s.mu.Lock()
	l := &s.life
	if l.over || l.gen != gen {
		s.mu.Unlock()
		return
	}
	exp := l.expiresAt
	l.timer = time.AfterFunc(time.Until(exp.Add(h.opts.TokenExpiryGrace)), func() { h.tokenExpired(s, gen) })
	s.mu.Unlock()
	_ = h.Send(s, "token_expiring", tokenExpiring{ExpiresAt: exp.UnixMilli(), InMs: max(0, time.Until(exp).Milliseconds())})
}

// sioDisconnect is the Socket.IO DISCONNECT packet of the main namespace: the stock client
// reports `disconnect` with reason "io server disconnect" and does not reconnect by itself.
var sioDisconnect = protocol.Packet{Type: protocol.Disconnect, Namespace: "/", ID: protocol.NoAck}.Encode()

// tokenExpired ends a session whose token ran out: `error {code:"token_expired"}`, the
// DISCONNECT packet, then the socket closes. For its room it is a lost connection: the user
// keeps their place for the reconnection window (a client that reconnects with a fresh
// token comes back without churn), then the others see user_left "disconnected".
func (h *Hub) tokenExpired(s *Session, gen uint64) {
	s.mu.Lock()
	if s.life.over || s.life.gen != gen {
		s.mu.Unlock()
		return
	}
	s.life.over = true
	s.mu.Unlock()
	h.m.Errors.WithLabelValues(vocab.CodeTokenExpired).Inc()
	h.sendError(s, "", vocab.NewError(vocab.CodeTokenExpired, "your access token expired; reconnect with a new one"))
	s.conn.Send(sioDisconnect)
	s.conn.Close("token expired")
	h.Disconnect(s, DisconnectServer)
}

func (h *Hub) tokenOver(s *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.life.over
}

// onRefreshToken replaces the session's token. The new one must pass the CONNECT checks
// and name the same user; otherwise the answer is forbidden and nothing changes. Its
// `rooms` claim replaces the old one: a current room it no longer grants is left (the
// socket gets `error {code:"forbidden"}` before the ack, the room user_left "left").
func (h *Hub) onRefreshToken(ctx context.Context, s *Session, payload json.RawMessage) (any, *vocab.Error) {
	var req struct {
		Token *string `json:"token"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	if req.Token == nil || *req.Token == "" {
		return nil, vocab.NewError(vocab.CodeInvalidPayload, "token must be a non-empty string")
	}
	if h.opts.Tokens == nil {
		return nil, vocab.NewError(vocab.CodeInternal, "token refresh is not available on this node")
	}
	if h.tokenOver(s) {
		return nil, vocab.NewError(vocab.CodeTokenExpired, "your access token expired; reconnect with a new one")
	}
	id, err := h.opts.Tokens.Check(ctx, *req.Token)
	if err != nil {
		h.log.Info("token refresh refused", "user", s.User.UserID, "err", err)
		return nil, vocab.NewError(vocab.CodeForbidden, "the token was not accepted")
	}
	if id.UserID != s.User.UserID {
		h.log.Info("token refresh refused: another user's token", "user", s.User.UserID, "sub", id.UserID)
		return nil, vocab.NewError(vocab.CodeForbidden, "the token names another user")
	}
	s.mu.Lock()
	s.grants = id.Rooms
	s.mu.Unlock()
	h.armTokenLife(s, id.ExpiresAt)
	if room := s.Room(); room != "" && !h.stillGranted(ctx, s, room) {
		h.leave(s, room, "left")
		h.sendError(s, "refresh_token", vocab.Errorf(vocab.CodeForbidden, "your new token does not grant room %q; you have left it", room))
	}
	return map[string]any{"expiresAt": id.ExpiresAt.UnixMilli()}, nil
}

// stillGranted re-checks the current room after a refresh. Only a definite "no" removes
// the user: while the Room Service cannot answer, they stay (as they would have joined).
func (h *Hub) stillGranted(ctx context.Context, s *Session, room string) bool {
	if claimRefuses(s, room) {
		return false
	}
	info, err := h.opts.Rooms.Lookup(ctx, room)
	if err != nil && !errors.Is(err, vocab.ErrRoomNotFound) {
		h.log.Warn("room lookup failed after a token refresh; keeping the user in the room", "room", room, "err", err)
		return true
	}
	return h.granted(s, room, info, err == nil)
}
