// Package sfu proxies the mediasoup-style sfu_* client events to the Media Service
// (docs/backends.md §Media Service): it keeps track of which transports, producers and consumers belong to
// whom, guards the Media Service with a circuit breaker, and switches small rooms to P2P
// while the Media Service is unavailable. docs/sfu.md describes the behaviour.
package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/contract"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// MessageUnavailable is the message of every media_unavailable error.
const MessageUnavailable = "Media Server Unavailable"

// Defaults of Options.
const (
	DefaultCreateTimeout    = 5 * time.Second
	DefaultCallTimeout      = 3 * time.Second
	DefaultBreakerThreshold = 5
	DefaultHealthInterval   = 2 * time.Second
	DefaultFallbackMax      = 3
)

// Options configure a Service.
type Options struct {
	// MediaURL is the Media Service base URL; empty means there is none and every sfu_*
	// answers media_unavailable.
	MediaURL      string
	HTTPClient    *http.Client
	CreateTimeout time.Duration // sfu_create_transport calls (default 5 s)
	CallTimeout   time.Duration // every other call, /health included (default 3 s)
	// BreakerThreshold consecutive failures open the breaker (default 5).
	BreakerThreshold int
	// HealthInterval is how often an open breaker polls GET /health, and how often the
	// P2P fallback is re-evaluated while it is open (default 2 s).
	HealthInterval time.Duration
	// FallbackMaxParticipants: an sfu room with at most this many participants switches
	// to P2P while the Media Service is unavailable (default 3, i.e. "fewer than 4"; docs/sfu.md §P2P fallback).
	FallbackMaxParticipants int
	// DisableFallback keeps sfu rooms in sfu mode during outages.
	DisableFallback bool
	// Rooms tells the mode of a room (the same directory the hub uses).
	Rooms vocab.RoomDirectory
	// Redis shares the producer registry, the ownership of transports and consumers, the fallback flags and the operator's verdict
	// with the other nodes; nil keeps them in this process (single node).
	Redis   redis.UniversalClient
	Metrics *metrics.SFUMetrics // nil = throw-away collectors
	Logger  *slog.Logger
}

func (o *Options) withDefaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.CreateTimeout <= 0 {
		o.CreateTimeout = DefaultCreateTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.BreakerThreshold <= 0 {
		o.BreakerThreshold = DefaultBreakerThreshold
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = DefaultHealthInterval
	}
	if o.FallbackMaxParticipants <= 0 {
		o.FallbackMaxParticipants = DefaultFallbackMax
	}
	if o.Rooms == nil {
		o.Rooms = vocab.StaticRooms{Mode: vocab.ModeSFU}
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSFUMetrics(prometheus.NewRegistry())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Service is one node's SFU proxy.
type Service struct {
	opts      Options
	log       *slog.Logger
	m         *metrics.SFUMetrics
	media     *MediaClient // nil without a Media Service
	breaker   *breaker
	own       ownership
	producers producerRegistry
	flags     fallbackFlags

	h      Hub
	kick   chan struct{} // non-blocking: run the health loop's pass now
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// fallbackMu serialises switching rooms to P2P and back.
	fallbackMu sync.Mutex

	mu sync.Mutex
	// fallback holds the rooms this node saw switched to P2P during the current outage;
	// it announces their return to sfu.
	fallback map[string]bool
	// warned remembers which sessions got the `error` event in which outage, so a client
	// is told once per outage rather than on every rejected call.
	warned     map[string]uint64
	verdictAt  int64 // time of the latest operator verdict applied
	verdictBad bool  // the latest operator verdict said unhealthy
}

// New creates a Service; Register attaches it to a hub.
func New(opts Options) *Service {
	opts.withDefaults()
	s := &Service{
		opts:     opts,
		log:      opts.Logger.With("component", "sfu"),
		m:        opts.Metrics,
		breaker:  newBreaker(opts.BreakerThreshold),
		fallback: map[string]bool{},
		warned:   map[string]uint64{},
		kick:     make(chan struct{}, 1),
	}
	if opts.MediaURL != "" {
		s.media = newMediaClient(opts.MediaURL, opts.HTTPClient, opts.CreateTimeout, opts.CallTimeout, opts.Metrics)
	}
	if opts.Redis != nil {
		s.producers, s.flags, s.own = redisProducers{opts.Redis}, redisFlags{opts.Redis}, redisOwnership{opts.Redis}
	} else {
		s.producers, s.flags, s.own = newMemoryProducers(), &memoryFlags{rooms: map[string]bool{}}, newMemoryOwnership()
	}
	return s
}

// Register adds the sfu_* events and the hooks to h (before h.Start), applies the
// operator's stored verdict and starts the health loop, which runs until Close.
func (s *Service) Register(ctx context.Context, h Hub) {
	s.h = h
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	h.Handle("sfu_get_router_capabilities", s.onCapabilities)
	h.Handle("sfu_create_transport", s.onCreateTransport)
	h.Handle("sfu_connect_transport", s.onConnectTransport)
	h.Handle("sfu_produce", s.onProduce)
	h.Handle("sfu_consume", s.onConsume)
	h.Handle("sfu_resume_consumer", s.onResumeConsumer)
	h.Handle("sfu_close_producer", s.onCloseProducer)
	h.Handle("sfu_pause_producer", s.onPauseProducer)
	h.Handle("sfu_resume_producer", s.onResumeProducer)
	h.Handle("sfu_restart_ice", s.onRestartICE)
	h.SetJoinExtra(s.joinProducers)
	h.OnMemberGone(s.onMemberGone)
	h.OnControl(s.onControl)
	h.SetModeOverride(s.effectiveMode)
	s.m.BreakerOpen.Set(0)

	if s.opts.Redis != nil && s.media != nil {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		v, ok, err := readVerdict(rctx, s.opts.Redis)
		cancel()
		switch {
		case err != nil:
			s.log.Warn("could not read the operator's media verdict; relying on own checks", "err", err)
		case ok:
			s.applyVerdict(v)
		}
	}
	if s.media != nil {
		s.wg.Add(1)
		go s.loop()
	}
}

// Close stops the health loop.
func (s *Service) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}

// BreakerOpen reports whether this node currently refuses sfu_* calls.
func (s *Service) BreakerOpen() bool {
	open, _ := s.breaker.state()
	return open || s.media == nil
}

// loop polls GET /health while the breaker is open and keeps the P2P fallback current.
func (s *Service) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		open, cause := s.breaker.state()
		if !open {
			s.restoreRooms()
			continue
		}
		if err := s.media.Health(s.ctx); err != nil {
			s.log.Debug("media service still unhealthy", "err", err)
			s.updateFallback()
			continue
		}
		if cause == causeOperator && s.operatorStillUnhealthy() {
			s.updateFallback()
			continue
		}
		s.closeBreaker(causeHealthCheck)
	}
}

// operatorStillUnhealthy tells whether the operator's stored verdict (whose TTL bounds
// it) still says unhealthy: then a passing local check does not override it.
func (s *Service) operatorStillUnhealthy() bool {
	if s.opts.Redis == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.verdictBad
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	v, ok, err := readVerdict(ctx, s.opts.Redis)
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.verdictBad
	}
	return ok && !v.Healthy
}

// onControl applies the operator's verdict, published to every node at once.
func (s *Service) onControl(event string, data json.RawMessage) {
	if event != contract.MediaHealthNoticeType || s.media == nil {
		return
	}
	v, err := contract.ParseMediaVerdict(data)
	if err != nil {
		s.log.Warn("media_health notice without a verdict", "err", err)
		return
	}
	s.applyVerdict(v)
}

func (s *Service) applyVerdict(v contract.MediaVerdict) {
	s.mu.Lock()
	if t := v.CheckedAt; t != 0 {
		if t < s.verdictAt {
			s.mu.Unlock()
			return // an older verdict overtaken by a newer one
		}
		s.verdictAt = t
	}
	s.verdictBad = !v.Healthy
	s.mu.Unlock()
	if v.Healthy {
		s.closeBreaker(causeOperator)
		return
	}
	s.openBreaker(causeOperator, v.Reason)
}

func (s *Service) openBreaker(cause, reason string) {
	if !s.breaker.trip(cause, reason) {
		return
	}
	s.opened(cause, reason)
}

// opened runs after the breaker went from closed to open.
func (s *Service) opened(cause, reason string) {
	s.m.BreakerOpen.Set(1)
	s.m.BreakerTransitions.WithLabelValues("open", cause).Inc()
	s.log.Warn("media circuit breaker open: sfu_* calls answer media_unavailable", "cause", cause, "reason", reason)
	go s.updateFallback()
}

func (s *Service) closeBreaker(cause string) {
	if !s.breaker.reset() {
		return
	}
	s.m.BreakerOpen.Set(0)
	s.m.BreakerTransitions.WithLabelValues("closed", cause).Inc()
	s.log.Info("media circuit breaker closed: the media service is back", "cause", cause)
	s.mu.Lock()
	clear(s.warned)
	s.mu.Unlock()
	go s.restoreRooms()
}

// unavailable answers an sfu_* call while the Media Service cannot be used: the ack (or
// the hub's error event) says media_unavailable, and the client also gets the `error`
// event once per outage (docs/sfu.md §Failures and the circuit breaker).
func (s *Service) unavailable(sess *hub.Session, event string) *vocab.Error {
	e := vocab.NewError(vocab.CodeMediaUnavailable, MessageUnavailable)
	_, epoch := s.breaker.allow()
	s.mu.Lock()
	seen, ok := s.warned[sess.ID]
	first := !ok || seen != epoch
	if first {
		s.warned[sess.ID] = epoch
	}
	s.mu.Unlock()
	if first {
		s.h.SendError(sess, event, e)
	}
	return e
}

// mediaError turns a failed Media Service call into the client's error and feeds the
// breaker.
func (s *Service) mediaError(sess *hub.Session, event string, err error) *vocab.Error {
	var ce *ClientError
	switch {
	case errors.As(err, &ce):
		s.breaker.success()
		return vocab.NewError(vocab.CodeInvalidPayload, ce.Message)
	case errors.Is(err, ErrMediaFailure):
		s.log.Warn("media service call failed", "event", event, "user", sess.User.UserID, "err", err)
		if s.breaker.failure() {
			s.opened(causeFailures, err.Error())
		}
		return s.unavailable(sess, event)
	default:
		s.log.Warn("media service call abandoned", "event", event, "err", err)
		return vocab.NewError(vocab.CodeInternal, "the request was abandoned before the media service answered; try again")
	}
}

// mediaOK records a successful call for the breaker.
func (s *Service) mediaOK() { s.breaker.success() }
