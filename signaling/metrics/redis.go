package metrics

import "github.com/prometheus/client_golang/prometheus"

// RedisMetrics describe the Redis bus and presence.
type RedisMetrics struct {
	Published        *prometheus.CounterVec // by channel kind (room, node, control, probe)
	Received         *prometheus.CounterVec // by channel kind
	PublishLatency   prometheus.Histogram
	DeliveryLatency  prometheus.Histogram // publish on one node → receive on another
	WatchdogHealthy  prometheus.Gauge
	WatchdogFailures prometheus.Counter
	Degraded         prometheus.Gauge
	PresenceCleanups *prometheus.CounterVec // by reason (dead_node, disconnected, timeout)
	Resyncs          prometheus.Counter

	// Resubscribes counts pub/sub connections re-established after a gap, by reason
	// (conn_error: go-redis reconnected after a read error; watchdog: probes stopped arriving).
	Resubscribes *prometheus.CounterVec
	// DeliveryStalls counts times the subscriber waited because the node's handler queue
	// was full (the bus never drops a message to make room).
	DeliveryStalls prometheus.Counter
	// BusRejected counts received bus messages dropped because they failed the bus key
	// check, by reason: unsigned, bad_mac.
	BusRejected *prometheus.CounterVec
}

// NewRedisMetrics creates the Redis collectors and registers them on reg (pass
// prometheus.NewRegistry() for throw-away collectors in tests).
func NewRedisMetrics(reg prometheus.Registerer) *RedisMetrics { return newRedisMetrics(reg) }

func newRedisMetrics(reg prometheus.Registerer) *RedisMetrics {
	m := &RedisMetrics{
		Published:        prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "redis", Name: "published_total", Help: "Messages published to Redis, by channel kind."}, []string{"kind"}),
		Received:         prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "redis", Name: "received_total", Help: "Messages received from Redis, by channel kind."}, []string{"kind"}),
		PublishLatency:   prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "redis", Name: "publish_seconds", Help: "Time for a PUBLISH round trip.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		DeliveryLatency:  prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "redis", Name: "delivery_seconds", Help: "Time from publish on one node to receipt on another.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		WatchdogHealthy:  prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "redis", Name: "watchdog_healthy", Help: "1 while this node receives its own pub/sub probes."}),
		WatchdogFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "redis", Name: "watchdog_failures_total", Help: "Probes not received in time (subscription re-established)."}),
		Degraded:         prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "degraded", Help: "1 while Redis is unreachable and the node serves only local users."}),
		PresenceCleanups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "presence", Name: "cleanups_total", Help: "Members removed by clean-up, by reason."}, []string{"reason"}),
		Resyncs:          prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "presence", Name: "resyncs_total", Help: "Times local presence was re-written after Redis came back."}),
		Resubscribes:     prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "redis", Name: "resubscribes_total", Help: "Pub/sub connections re-established after a gap, by reason (conn_error, watchdog)."}, []string{"reason"}),
		DeliveryStalls:   prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "redis", Name: "delivery_stalls_total", Help: "Times the subscriber waited for a full handler queue (messages are never dropped)."}),
		BusRejected:      prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "redis", Name: "bus_rejected_total", Help: "Bus messages dropped because they failed the --bus-key-file check, by reason (unsigned, bad_mac)."}, []string{"reason"}),
	}
	reg.MustRegister(m.Published, m.Received, m.PublishLatency, m.DeliveryLatency, m.WatchdogHealthy, m.WatchdogFailures, m.Degraded, m.PresenceCleanups, m.Resyncs, m.Resubscribes, m.DeliveryStalls, m.BusRejected)
	return m
}
