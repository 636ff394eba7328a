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
	// Long-polling (signaling/server/polling.go, sessionrelay.go).
	PollingSessions prometheus.Gauge       // sessions on the polling transport owned here
	PollingRequests *prometheus.CounterVec // polling requests served for sessions owned here, by method and status
	SessionRelays   *prometheus.CounterVec // requests relayed to the owning node, by kind and outcome
	BridgedSockets  prometheus.Gauge       // WebSockets held here for a session another node owns

	Redis *RedisMetrics
	Chat  *ChatMetrics
	SFU   *SFUMetrics
	// Recovery: connection-state recovery.
	Recovery *RecoveryMetrics
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
	m.PollingSessions = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "polling_sessions", Help: "Engine.IO sessions owned by this node that are on the long-polling transport (not upgraded)."})
	m.PollingRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "polling_requests_total", Help: "Long-polling requests served for sessions this node owns (arrived here or relayed from another node), by method and HTTP status."}, []string{"method", "status"})
	m.SessionRelays = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "session_relays_total", Help: "Requests of sessions owned by another node, relayed to the owner over the bus, by kind (get, post, websocket) and outcome (ok, timeout, unavailable)."}, []string{"kind", "outcome"})
	m.BridgedSockets = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "bridged_websockets", Help: "WebSockets held by this node for an upgraded session another node owns (bridged over the bus)."})
	for _, c := range []prometheus.Collector{m.PollingSessions, m.PollingRequests, m.SessionRelays, m.BridgedSockets, m.Connections, m.ConnectionsOpen, m.Rooms, m.EventsIn, m.EventsOut, m.Errors, m.AuthFailures, m.Disconnects, m.SlowConsumers, m.ConnectionsRefused, m.DevMode} {
		f(c)
	}
	m.Redis = newRedisMetrics(reg)
	m.Chat = NewChatMetrics(reg)
	m.SFU = newSFUMetrics(reg)
	m.Recovery = newRecoveryMetrics(reg)
	return m
}
