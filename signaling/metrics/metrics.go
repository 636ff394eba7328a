// Package metrics holds the node's Prometheus collectors. Every collector is registered
// on one registry per node (so several nodes can live in one test process) and served at
// /metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard-rtc/switchboard/internal/version"
)

const namespace = "switchboard"

// Metrics are the collectors of one signaling node.
type Metrics struct {
	Registry *prometheus.Registry

	Connections     prometheus.Gauge
	ConnectionsOpen prometheus.Counter
	Rooms           prometheus.Gauge
	EventsIn        *prometheus.CounterVec // by event
	EventsOut       *prometheus.CounterVec // by event
	Errors          *prometheus.CounterVec // by code
	AuthFailures    *prometheus.CounterVec // by reason
	Disconnects     *prometheus.CounterVec // by reason
	SlowConsumers   prometheus.Counter
	// ConnectionsRefused counts connections refused by a cap: node_full, ip_limit, user_limit.
	ConnectionsRefused *prometheus.CounterVec
	DevMode            prometheus.Gauge

	Redis *RedisMetrics
	Chat  *ChatMetrics
	SFU   *SFUMetrics
}

// New creates and registers the collectors on a fresh registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), version.BuildInfo())
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{Registry: reg}
	m.Connections = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "connections", Help: "Socket.IO connections currently open."})
	m.ConnectionsOpen = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "connections_opened_total", Help: "Socket.IO connections accepted (authenticated)."})
	m.Rooms = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "rooms", Help: "Rooms with at least one member on this node."})
	m.EventsIn = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "events_received_total", Help: "Client events received, by event name (unknown events count as \"unknown\")."}, []string{"event"})
	m.EventsOut = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "events_sent_total", Help: "Events sent to clients, by event name."}, []string{"event"})
	m.Errors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "errors_total", Help: "Errors returned to clients, by protocol error code."}, []string{"code"})
	m.AuthFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "auth_failures_total", Help: "Rejected connection attempts, by reason."}, []string{"reason"})
	m.Disconnects = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "disconnects_total", Help: "Closed connections, by reason."}, []string{"reason"})
	m.SlowConsumers = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "slow_consumer_disconnects_total", Help: "Connections closed because their send queue was full (frames or bytes)."})
	m.ConnectionsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "connections_refused_total", Help: "Connections refused by a connection cap, by cap (node_full, ip_limit, user_limit)."}, []string{"reason"})
	m.DevMode = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "dev_mode", Help: "1 when the node runs with --dev (generated keys, /dev/token): alert on it in production."})
	for _, c := range []prometheus.Collector{m.Connections, m.ConnectionsOpen, m.Rooms, m.EventsIn, m.EventsOut, m.Errors, m.AuthFailures, m.Disconnects, m.SlowConsumers, m.ConnectionsRefused, m.DevMode} {
		f(c)
	}
	m.Redis = newRedisMetrics(reg)
	m.Chat = NewChatMetrics(reg)
	m.SFU = newSFUMetrics(reg)
	return m
}
