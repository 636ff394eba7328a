package sfu

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// P2P fallback (docs/sfu.md §P2P fallback): while this node's breaker is open, a room in sfu
// mode with at most FallbackMaxParticipants members is switched to P2P — one node raises
// the room's shared flag and announces room_mode_changed {mode:"p2p"} to the room. When
// the breaker closes, the nodes that saw the switch lower the flag; the one that lowers
// it announces room_mode_changed {mode:"sfu"}.

type modeChanged struct {
	RoomID string `json:"roomId"`
	Mode   string `json:"mode"`
}

// effectiveMode is the hub's mode override: the mode reported in join acks. It runs
// inside a join, so it only reads: a room that qualifies for the fallback is reported as
// p2p and the health loop is woken to raise the room's shared flag and announce the
// switch to the whole room (a cluster-wide broadcast never rides on one user's join).
func (s *Service) effectiveMode(room, mode string) string {
	if mode != vocab.ModeSFU || s.media == nil || s.opts.DisableFallback {
		return mode
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	if set, err := s.flags.isSet(ctx, room); err == nil && set {
		if open, _ := s.breaker.state(); open {
			s.remember(room)
		}
		return vocab.ModeP2P
	}
	if open, _ := s.breaker.state(); !open {
		return mode
	}
	if members, err := s.h.Members(ctx, room); err != nil || len(members) > s.opts.FallbackMaxParticipants {
		return mode
	}
	s.wake()
	return vocab.ModeP2P
}

// wake asks the health loop for a pass now instead of at its next tick.
func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Service) remember(room string) {
	s.mu.Lock()
	s.fallback[room] = true
	s.mu.Unlock()
}

// switchToP2P switches room when it is small enough; it reports whether the room is in
// P2P now.
func (s *Service) switchToP2P(ctx context.Context, room string) bool {
	members, err := s.h.Members(ctx, room)
	if err != nil || len(members) > s.opts.FallbackMaxParticipants {
		return false
	}
	raised, err := s.flags.set(ctx, room)
	if err != nil {
		s.log.Warn("could not switch the room to P2P", "room", room, "err", err)
		return false
	}
	s.remember(room)
	if raised {
		s.announceMode(room, vocab.ModeP2P)
	}
	return true
}

func (s *Service) announceMode(room, mode string) {
	s.m.ModeChanges.WithLabelValues(mode).Inc()
	s.log.Info("room mode changed", "room", room, "mode", mode)
	if err := s.h.Broadcast(room, "room_mode_changed", modeChanged{RoomID: room, Mode: mode}, ""); err != nil {
		s.log.Warn("room_mode_changed not announced", "room", room, "err", err)
	}
}

// updateFallback switches this node's small sfu rooms to P2P and keeps the flags of the
// switched rooms alive, while the breaker is open.
func (s *Service) updateFallback() {
	if s.opts.DisableFallback {
		return
	}
	s.fallbackMu.Lock()
	defer s.fallbackMu.Unlock()
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	seen := map[string]bool{}
	s.mu.Lock()
	for room := range s.fallback {
		seen[room] = true
	}
	s.mu.Unlock()
	for room := range seen {
		if err := s.flags.refresh(ctx, room); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Debug("fallback flag refresh failed", "room", room, "err", err)
		}
	}
	for _, room := range s.h.LocalRooms() {
		if open, _ := s.breaker.state(); !open {
			return
		}
		if seen[room] {
			continue
		}
		info, err := s.opts.Rooms.Lookup(ctx, room)
		if err != nil || info.Mode != vocab.ModeSFU {
			continue
		}
		s.switchToP2P(ctx, room)
	}
}

// restoreRooms returns the rooms this node saw switched to P2P to sfu, once the breaker
// is closed. A room whose flag cannot be lowered now is tried again on the next tick.
func (s *Service) restoreRooms() {
	s.fallbackMu.Lock()
	defer s.fallbackMu.Unlock()
	s.mu.Lock()
	rooms := make([]string, 0, len(s.fallback))
	for room := range s.fallback {
		rooms = append(rooms, room)
	}
	s.mu.Unlock()
	if len(rooms) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	for _, room := range rooms {
		if open, _ := s.breaker.state(); open {
			return
		}
		lowered, err := s.flags.clear(ctx, room)
		if err != nil {
			s.log.Warn("could not switch the room back to sfu; will retry", "room", room, "err", err)
			continue
		}
		s.mu.Lock()
		delete(s.fallback, room)
		s.mu.Unlock()
		if lowered {
			s.announceMode(room, vocab.ModeSFU)
		}
	}
}
