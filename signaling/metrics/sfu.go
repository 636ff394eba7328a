package metrics

import "github.com/prometheus/client_golang/prometheus"

// SFUMetrics describe the room cache and the Media Service proxy.
type SFUMetrics struct {
	// RoomCache counts room lookups by result (hit: served from the cache; miss: the Room
	// Service was asked, or would have been).
	RoomCache *prometheus.CounterVec
	// RoomService counts Room Service calls by outcome (ok, not_found, error).
	RoomService *prometheus.CounterVec
	// MediaCalls counts Media Service calls by operation and outcome (ok, client_error,
	// server_error, timeout, refused, bad_response, canceled = the client went away,
	// rejected = not sent, breaker open).
	MediaCalls *prometheus.CounterVec
	// MediaLatency is the duration of the calls actually sent, by operation.
	MediaLatency *prometheus.HistogramVec
	// BreakerOpen is 1 while this node's media circuit breaker is open.
	BreakerOpen prometheus.Gauge
	// BreakerTransitions counts breaker changes by new state (open, closed) and cause
	// (failures, operator, health_check, no_media_service).
	BreakerTransitions *prometheus.CounterVec
	// ModeChanges counts room_mode_changed announcements this node made, by new mode.
	ModeChanges *prometheus.CounterVec
}

func newSFUMetrics(reg prometheus.Registerer) *SFUMetrics {
	m := &SFUMetrics{
		RoomCache:          prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "room_cache", Name: "lookups_total", Help: "Room lookups by result (hit, miss, not_found_hit: a recent 404 remembered)."}, []string{"result"}),
		RoomService:        prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "room_service", Name: "calls_total", Help: "Room Service calls by outcome (ok, not_found, error)."}, []string{"outcome"}),
		MediaCalls:         prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "media", Name: "calls_total", Help: "Media Service calls by operation and outcome (ok, client_error, server_error, timeout, refused, bad_response, canceled, rejected)."}, []string{"op", "outcome"}),
		MediaLatency:       prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "media", Name: "call_seconds", Help: "Duration of Media Service calls, by operation.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"op"}),
		BreakerOpen:        prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "media", Name: "breaker_open", Help: "1 while the media circuit breaker is open (sfu_* answer media_unavailable)."}),
		BreakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "media", Name: "breaker_transitions_total", Help: "Media circuit breaker changes by new state and cause."}, []string{"state", "cause"}),
		ModeChanges:        prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "sfu", Name: "room_mode_changes_total", Help: "room_mode_changed announcements made by this node, by new mode (p2p = fallback, sfu = recovered)."}, []string{"mode"}),
	}
	for _, c := range []prometheus.Collector{m.RoomCache, m.RoomService, m.MediaCalls, m.MediaLatency, m.BreakerOpen, m.BreakerTransitions, m.ModeChanges} {
		reg.MustRegister(c)
	}
	return m
}

// NewSFUMetrics creates the SFU collectors on reg (prometheus.NewRegistry() in tests).
func NewSFUMetrics(reg prometheus.Registerer) *SFUMetrics { return newSFUMetrics(reg) }
