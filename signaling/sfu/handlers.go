package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// newProducer is the sfu_new_producer event.
type newProducer struct {
	RoomID     string `json:"roomId"`
	ProducerID string `json:"producerId"`
	UserID     string `json:"userId"`
	Kind       string `json:"kind"`
}

// producerClosed is the sfu_producer_closed event.
type producerClosed struct {
	RoomID     string `json:"roomId"`
	ProducerID string `json:"producerId"`
	UserID     string `json:"userId"`
}

// sfuRoom checks that the session is in a room running in sfu mode and returns it.
func (s *Service) sfuRoom(ctx context.Context, sess *hub.Session, event string) (string, *vocab.Error) {
	room := sess.Room()
	if room == "" {
		return "", vocab.NewError(vocab.CodeNotInRoom, fmt.Sprintf("join an sfu room before sending %s", event))
	}
	info, err := s.opts.Rooms.Lookup(ctx, room)
	if err != nil {
		s.log.Warn("room lookup failed", "room", room, "err", err)
		return "", vocab.NewError(vocab.CodeInternal, fmt.Sprintf("could not load room %q: the room service is unavailable; try again", room))
	}
	if info.Mode != vocab.ModeSFU {
		return "", vocab.NewError(vocab.CodeNotSFURoom, fmt.Sprintf("room %q runs in %s mode; sfu_* events need an sfu room", room, info.Mode))
	}
	return room, nil
}

// ready fails fast while the Media Service cannot be used.
func (s *Service) ready(sess *hub.Session, event string) *vocab.Error {
	if s.media == nil {
		return s.unavailable(sess, event)
	}
	if ok, _ := s.breaker.allow(); !ok {
		s.m.MediaCalls.WithLabelValues(opFor(event), "rejected").Inc()
		return s.unavailable(sess, event)
	}
	return nil
}

// ownedRoom is the common gate of a request on an existing transport or consumer: the
// session is in an sfu room, the id was created for this user there (on any node), and the
// Media Service can be used. It returns the room.
func (s *Service) ownedRoom(ctx context.Context, sess *hub.Session, event, kind, id, what string) (string, *vocab.Error) {
	room, perr := s.sfuRoom(ctx, sess, event)
	if perr != nil {
		return "", perr
	}
	if perr := s.mustOwn(ctx, owner{room, sess.User.UserID}, kind, id, what); perr != nil {
		return "", perr
	}
	if perr := s.ready(sess, event); perr != nil {
		return "", perr
	}
	return room, nil
}

func opFor(event string) string {
	switch event {
	case "sfu_get_router_capabilities":
		return opCapabilities
	case "sfu_create_transport":
		return opCreate
	case "sfu_connect_transport":
		return opConnect
	case "sfu_produce":
		return opProduce
	case "sfu_consume":
		return opConsume
	case "sfu_resume_consumer":
		return opResume
	case "sfu_close_producer":
		return opCloseProd
	case "sfu_pause_producer":
		return opPauseProd
	case "sfu_resume_producer":
		return opResumeProd
	case "sfu_restart_ice":
		return opRestartICE
	}
	return event
}

func (s *Service) onCapabilities(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	const event = "sfu_get_router_capabilities"
	if _, perr := fields(payload); perr != nil {
		return nil, perr
	}
	room, perr := s.sfuRoom(ctx, sess, event)
	if perr != nil {
		return nil, perr
	}
	if perr := s.ready(sess, event); perr != nil {
		return nil, perr
	}
	a, err := s.media.Capabilities(ctx, room)
	if err != nil {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	return map[string]any{"rtpCapabilities": orNull(a.RTPCapabilities)}, nil
}

func (s *Service) onCreateTransport(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	const event = "sfu_create_transport"
	f, perr := fields(payload)
	if perr != nil {
		return nil, perr
	}
	direction, perr := f.str("direction")
	if perr != nil {
		return nil, perr
	}
	if direction != "send" && direction != "recv" {
		return nil, vocab.NewError(vocab.CodeInvalidPayload, `field "direction" must be "send" or "recv"`)
	}
	room, perr := s.sfuRoom(ctx, sess, event)
	if perr != nil {
		return nil, perr
	}
	if perr := s.ready(sess, event); perr != nil {
		return nil, perr
	}
	user := sess.User.UserID
	t, err := s.media.CreateTransport(ctx, room, user, direction)
	if err != nil {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	if perr := s.record(ctx, owner{room, user}, kindTransport, t.ID, "transport"); perr != nil {
		return nil, perr
	}
	return map[string]any{"transport": map[string]json.RawMessage{
		"id":             mustJSON(t.ID),
		"iceParameters":  orNull(t.ICEParameters),
		"iceCandidates":  orNull(t.ICECandidates),
		"dtlsParameters": orNull(t.DTLSParameters),
	}}, nil
}

func (s *Service) onConnectTransport(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	const event = "sfu_connect_transport"
	f, perr := fields(payload)
	if perr != nil {
		return nil, perr
	}
	transport, perr := f.str("transportId")
	if perr != nil {
		return nil, perr
	}
	dtls, perr := f.required("dtlsParameters")
	if perr != nil {
		return nil, perr
	}
	room, perr := s.ownedRoom(ctx, sess, event, kindTransport, transport, "transport")
	if perr != nil {
		return nil, perr
	}
	if err := s.media.ConnectTransport(ctx, room, transport, dtls); err != nil {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	return nil, nil
}

func (s *Service) onProduce(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	const event = "sfu_produce"
	f, perr := fields(payload)
	if perr != nil {
		return nil, perr
	}
	transport, perr := f.str("transportId")
	if perr != nil {
		return nil, perr
	}
	kind, perr := f.str("kind")
	if perr != nil {
		return nil, perr
	}
	if kind != "audio" && kind != "video" {
		return nil, vocab.NewError(vocab.CodeInvalidPayload, `field "kind" must be "audio" or "video"`)
	}
	rtp, perr := f.required("rtpParameters")
	if perr != nil {
		return nil, perr
	}
	appData := f.optional("appData")
	room, perr := s.ownedRoom(ctx, sess, event, kindTransport, transport, "transport")
	if perr != nil {
		return nil, perr
	}
	user := sess.User.UserID
	p, err := s.media.Produce(ctx, room, transport, kind, rtp, appData)
	if err != nil {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	if perr := s.record(ctx, owner{room, user}, kindProducer, p.ID, "producer"); perr != nil {
		// Past the cap (or without the shared state) the producer is not kept: close it.
		if err := s.media.CloseProducer(ctx, room, p.ID); err != nil {
			s.log.Warn("could not close a producer refused by the cap", "room", room, "producer", p.ID, "err", err)
		}
		return nil, perr
	}
	if err := s.producers.add(ctx, room, producer{ID: p.ID, UserID: user, Kind: kind}); err != nil {
		// The producer exists and others can consume it; without its registry entry it is
		// missing from join acks, its owner cannot pause or close it by event, and nothing
		// announces its end (the Media Service still closes it with the peer).
		s.log.Warn("producer not recorded in the registry", "room", room, "producer", p.ID, "err", err)
	}
	if err := s.h.Broadcast(room, "sfu_new_producer", newProducer{RoomID: room, ProducerID: p.ID, UserID: user, Kind: kind}, user); err != nil {
		s.log.Warn("sfu_new_producer not announced", "room", room, "err", err)
	}
	return map[string]any{"producerId": p.ID}, nil
}

func (s *Service) onConsume(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	const event = "sfu_consume"
	f, perr := fields(payload)
	if perr != nil {
		return nil, perr
	}
	transport, perr := f.str("transportId")
	if perr != nil {
		return nil, perr
	}
	producerID, perr := f.str("producerId")
	if perr != nil {
		return nil, perr
	}
	caps, perr := f.required("rtpCapabilities")
	if perr != nil {
		return nil, perr
	}
	room, perr := s.ownedRoom(ctx, sess, event, kindTransport, transport, "transport")
	if perr != nil {
		return nil, perr
	}
	w := owner{room, sess.User.UserID}
	c, err := s.media.Consume(ctx, room, transport, producerID, caps)
	if err != nil {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	if perr := s.record(ctx, w, kindConsumer, c.ID, "consumer"); perr != nil {
		return nil, perr
	}
	return map[string]any{"consumer": map[string]json.RawMessage{
		"id":            mustJSON(c.ID),
		"producerId":    mustJSON(c.ProducerID),
		"kind":          mustJSON(c.Kind),
		"rtpParameters": orNull(c.RTPParameters),
	}}, nil
}

func (s *Service) onResumeConsumer(ctx context.Context, sess *hub.Session, payload json.RawMessage) (any, *vocab.Error) {
	const event = "sfu_resume_consumer"
	f, perr := fields(payload)
	if perr != nil {
		return nil, perr
	}
	consumer, perr := f.str("consumerId")
	if perr != nil {
		return nil, perr
	}
	room, perr := s.ownedRoom(ctx, sess, event, kindConsumer, consumer, "consumer")
	if perr != nil {
		return nil, perr
	}
	if err := s.media.ResumeConsumer(ctx, room, consumer); err != nil {
		return nil, s.mediaError(sess, event, err)
	}
	s.mediaOK()
	return nil, nil
}

// onMemberGone runs once cluster-wide when a user finally left a room: the Media Service
// closes everything the peer owned and the room hears that its producers are gone.
func (s *Service) onMemberGone(ctx context.Context, room, user, _ string) {
	if err := s.own.forget(ctx, owner{room, user}); err != nil {
		s.log.Warn("could not forget the leaving user's transports and consumers; their TTL will", "room", room, "user", user, "err", err)
	}
	if info, err := s.opts.Rooms.Lookup(ctx, room); err == nil && info.Mode != vocab.ModeSFU {
		return
	}
	if s.media != nil {
		if ok, _ := s.breaker.allow(); ok {
			err := s.media.ClosePeer(ctx, room, user)
			var ce *ClientError
			switch {
			case err == nil:
				s.breaker.success()
			case errors.As(err, &ce):
				s.breaker.success() // e.g. 404: the peer had nothing to close
			default:
				s.log.Warn("could not close the peer on the media service", "room", room, "user", user, "err", err)
				if errors.Is(err, ErrMediaFailure) && s.breaker.failure() {
					s.opened(causeFailures, err.Error())
				}
			}
		}
	}
	ps, err := s.producers.takeUser(ctx, room, user)
	if err != nil {
		s.log.Warn("could not read the leaving user's producers; sfu_producer_closed not sent", "room", room, "user", user, "err", err)
		return
	}
	for _, p := range ps {
		if err := s.h.Broadcast(room, "sfu_producer_closed", producerClosed{RoomID: room, ProducerID: p.ID, UserID: user}, user); err != nil {
			s.log.Warn("sfu_producer_closed not announced", "room", room, "err", err)
		}
	}
}

// mustOwn checks that id (a transport or consumer) was created for w, on any node.
func (s *Service) mustOwn(ctx context.Context, w owner, kind, id, what string) *vocab.Error {
	ok, err := s.own.owns(ctx, w, kind, id)
	if err != nil {
		s.log.Warn("ownership check failed", "room", w.room, "user", w.user, what, id, "err", err)
		return vocab.NewError(vocab.CodeInternal, fmt.Sprintf("could not check the %s: the shared state is unavailable; try again", what))
	}
	if !ok {
		return forbidden(what, id)
	}
	return nil
}

// record remembers that the Media Service created id for w. Past the cap the id stays
// unusable (the Media Service closes it with the peer when the user leaves).
func (s *Service) record(ctx context.Context, w owner, kind, id, what string) *vocab.Error {
	err := s.own.add(ctx, w, kind, id)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errTooMany):
		return vocab.NewError(vocab.CodeRateLimited, fmt.Sprintf("too many transports, consumers and producers in this room (at most %d); close producers, or leave and rejoin the room", MaxOwnedPerUser))
	default:
		s.log.Warn("could not record a new id", "room", w.room, "user", w.user, what, id, "err", err)
		return vocab.NewError(vocab.CodeInternal, fmt.Sprintf("could not record the new %s: the shared state is unavailable; try again", what))
	}
}

func forbidden(what, id string) *vocab.Error {
	return vocab.NewError(vocab.CodeForbidden, fmt.Sprintf("%s %q was not created for you in this room", what, id))
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func orNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return json.RawMessage("null")
	}
	return r
}

// payloadFields is a decoded event payload: a JSON object whose values stay raw.
type payloadFields map[string]json.RawMessage

// fields decodes an event payload; a missing payload counts as {}.
func fields(payload json.RawMessage) (payloadFields, *vocab.Error) {
	if len(payload) == 0 || string(payload) == "null" {
		return payloadFields{}, nil
	}
	var f payloadFields
	if payload[0] != '{' || json.Unmarshal(payload, &f) != nil {
		return nil, vocab.NewError(vocab.CodeInvalidPayload, "payload must be a JSON object")
	}
	return f, nil
}

func (f payloadFields) str(name string) (string, *vocab.Error) {
	var v string
	raw, ok := f[name]
	if !ok || len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil || v == "" {
		return "", vocab.NewError(vocab.CodeInvalidPayload, fmt.Sprintf("field %q must be a non-empty string", name))
	}
	return v, nil
}

// required returns an opaque JSON value that must be present and not null.
func (f payloadFields) required(name string) (json.RawMessage, *vocab.Error) {
	raw, ok := f[name]
	if !ok || string(raw) == "null" {
		return nil, vocab.NewError(vocab.CodeInvalidPayload, fmt.Sprintf("field %q is required", name))
	}
	return raw, nil
}

func (f payloadFields) optional(name string) json.RawMessage {
	raw := f[name]
	if string(raw) == "null" {
		return nil
	}
	return raw
}
