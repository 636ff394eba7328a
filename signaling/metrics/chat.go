package metrics

import "github.com/prometheus/client_golang/prometheus"

// ChatMetrics describe chat persistence: the buffer between a message's ack and its
// delivery to the Chat Service.
type ChatMetrics struct {
	Accepted prometheus.Counter     // messages durably buffered (acked to the sender)
	Refused  *prometheus.CounterVec // messages answered rate_limited, by reason (user_rate, room_buffer, total_buffer)
	Flushed  prometheus.Counter     // messages the Chat Service accepted (2xx) from this node
	Retried  prometheus.Counter     // message deliveries that failed with 429/5xx/timeout/refused and will be retried
	Rejected prometheus.Counter     // messages the Chat Service refused for good (4xx other than 409/429); removed
	// BufferDepth and OldestUnflushedAge describe the whole buffer (cluster-wide with Redis):
	// every node reports the same value from its periodic census.
	BufferDepth        prometheus.Gauge
	OldestUnflushedAge prometheus.Gauge // seconds; 0 when the buffer is empty
	FlushLatency       prometheus.Histogram
}

// NewChatMetrics creates the chat collectors and registers them on reg (pass
// prometheus.NewRegistry() for throw-away collectors in tests).
func NewChatMetrics(reg prometheus.Registerer) *ChatMetrics {
	m := &ChatMetrics{
		Accepted:           prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "chat", Name: "accepted_total", Help: "Chat messages durably buffered and acknowledged to the sender."}),
		Refused:            prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "chat", Name: "refused_total", Help: "Chat messages answered rate_limited, by reason (user_rate, room_buffer, total_buffer)."}, []string{"reason"}),
		Flushed:            prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "chat", Name: "flushed_total", Help: "Chat messages delivered to the Chat Service (2xx) by this node."}),
		Retried:            prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "chat", Name: "retried_total", Help: "Chat message deliveries that failed (429, 5xx, timeout, refused) and will be retried."}),
		Rejected:           prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "chat", Name: "rejected_total", Help: "Chat messages the Chat Service rejected for good (4xx other than 409/429); removed from the buffer."}),
		BufferDepth:        prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "chat", Name: "buffer_depth", Help: "Chat messages waiting for the Chat Service (cluster-wide with Redis)."}),
		OldestUnflushedAge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "chat", Name: "oldest_unflushed_age_seconds", Help: "Age of the oldest chat message not yet accepted by the Chat Service (0 = none)."}),
		FlushLatency:       prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "chat", Name: "flush_seconds", Help: "Duration of one POST /internal/messages batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
	for _, c := range []prometheus.Collector{m.Accepted, m.Refused, m.Flushed, m.Retried, m.Rejected, m.BufferDepth, m.OldestUnflushedAge, m.FlushLatency} {
		reg.MustRegister(c)
	}
	return m
}
