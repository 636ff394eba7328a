package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// The producer and transport lifecycle events (docs/sfu.md §sfu_* events):
// sfu_close_producer, sfu_pause_producer, sfu_resume_producer and sfu_restart_ice. Only
// the producer's (or transport's) creator may use them, from any node; the room's other
// members hear sfu_producer_closed, sfu_producer_paused and sfu_producer_resumed.

// producerNotice is the payload of sfu_producer_paused and sfu_producer_resumed.
type producerNotice = producerClosed

// ownProducer checks that producerId is one of the caller's producers in room; the
// cluster-wide producer registry is the record.
func (s *Service) ownProducer(ctx context.Context, room, user, id string) (producer, *vocab.Error) {
	p, ok, err := s.producers.get(ctx, room, id)
	if err != nil {
		s.log.Warn("producer registry unavailable", "room", room, "producer", id, "err", err)
		return producer{}, vocab.NewError(vocab.CodeInternal, "could not check the producer: the shared state is unavailable; try again")
	}
	if !ok || p.UserID != user {
		return producer{}, forbidden("producer", id)
	}
	return p, nil
}

// producerCall is the common part of the three producer events: payload, room,
// ownership, breaker.
func (s *Service) producerCall(ctx context.Context, sess *hub.Session, event string, payload json.RawMessage) (string, producer, *vocab.Error) {
	f, perr := fields(payload)
	if perr != nil {
		return "", producer{}, perr
	}
	id, perr := f.str("producerId")
	if perr != nil {
		return "", producer{}, perr
	}
	room, perr := s.sfuRoom(ctx, sess, event)
	if perr != nil {
		return "", producer{}, perr
	}
	p, perr := s.ownProducer(ctx, room, sess.User.UserID, id)
	if perr != nil {
		return "", producer{}, perr
	}
	if perr := s.ready(sess, event); perr != nil {
		return "", producer{}, perr
	}
	return room, p, nil
}

func (s *Service) onCloseProducer(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	const event = "sfu_close_producer"
	room, p, perr := s.producerCall(ctx, sess, event, payload)
	if perr != nil {
		return nil, perr
	}
	// A 404 means the Media Service no longer has the producer (it died with its
	// transport, say): the close is done, and the registry entry must go too.
	var ce *ClientError
	if err := s.media.CloseProducer(ctx, room, p.ID); err != nil && !(errors.As(err, &ce) && ce.Status == http.StatusNotFound) {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	if err := s.own.drop(ctx, owner{room, p.UserID}, kindProducer, p.ID); err != nil {
		s.log.Warn("closed producer still counts against the cap", "room", room, "producer", p.ID, "err", err)
	}
	removed, err := s.producers.remove(ctx, room, p.ID)
	if err != nil {
		s.log.Warn("closed producer not removed from the registry", "room", room, "producer", p.ID, "err", err)
	}
	// Of two concurrent closes only the one that removed the entry announces it.
	if removed || err != nil {
		s.announce(room, "sfu_producer_closed", p)
	}
	return nil, nil
}

func (s *Service) onPauseProducer(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	return s.setProducerPaused(ctx, sess, "sfu_pause_producer", payload, true)
}

func (s *Service) onResumeProducer(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	return s.setProducerPaused(ctx, sess, "sfu_resume_producer", payload, false)
}

func (s *Service) setProducerPaused(ctx context.Context, sess *hub.Session, event string, payload json.RawMessage, paused bool) (any, *vocab.Error) {
	room, p, perr := s.producerCall(ctx, sess, event, payload)
	if perr != nil {
		return nil, perr
	}
	call, notice := s.media.ResumeProducer, "sfu_producer_resumed"
	if paused {
		call, notice = s.media.PauseProducer, "sfu_producer_paused"
	}
	if err := call(ctx, room, p.ID); err != nil {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	if err := s.producers.setPaused(ctx, room, p, paused); err != nil {
		// Only the join acks of later joiners read the flag.
		s.log.Warn("producer's paused state not recorded", "room", room, "producer", p.ID, "err", err)
	}
	s.announce(room, notice, p)
	return nil, nil
}

func (s *Service) announce(room, event string, p producer) {
	if err := s.h.Broadcast(room, event, producerNotice{RoomID: room, ProducerID: p.ID, UserID: p.UserID}, p.UserID); err != nil {
		s.log.Warn("producer notice not announced", "event", event, "room", room, "err", err)
	}
}

func (s *Service) onRestartICE(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	const event = "sfu_restart_ice"
	f, perr := fields(payload)
	if perr != nil {
		return nil, perr
	}
	transport, perr := f.str("transportId")
	if perr != nil {
		return nil, perr
	}
	room, perr := s.ownedRoom(ctx, sess, event, kindTransport, transport, "transport")
	if perr != nil {
		return nil, perr
	}
	a, err := s.media.RestartICE(ctx, room, transport)
	if err != nil {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	return map[string]any{"iceParameters": a.ICEParameters}, nil
}

// listedProducer is one entry of the join ack's producers.
type listedProducer struct {
	ProducerID string `json:"producerId"`
	UserID     string `json:"userId"`
	Kind       string `json:"kind"`
	Paused     bool   `json:"paused"`
}

// joinProducers is the hub's join-ack extra: in an sfu room the ack lists the others'
// producers that exist now, so a late joiner learns them there; sfu_new_producer is only
// sent when a producer appears (docs/protocol.md §SFU producers). The field is absent
// when the registry cannot be read.
func (s *Service) joinProducers(ctx context.Context, room, user, mode string) map[string]any {
	if mode != vocab.ModeSFU {
		return nil
	}
	ps, err := s.producers.list(ctx, room)
	if err != nil {
		s.log.Warn("could not list the room's producers for a join ack", "room", room, "err", err)
		return nil
	}
	out := make([]listedProducer, 0, len(ps))
	for _, p := range ps {
		if p.UserID != user {
			out = append(out, listedProducer{ProducerID: p.ID, UserID: p.UserID, Kind: p.Kind, Paused: p.Paused})
		}
	}
	return map[string]any{"producers": out}
}
