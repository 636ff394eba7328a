package metrics

import "github.com/prometheus/client_golang/prometheus"

// RecoveryMetrics describe connection-state recovery (signaling/hub/parking.go).
type RecoveryMetrics struct {
	// Attempts counts CONNECTs that named a pid, by result: recovered, or why the client
	// got a fresh session instead (unknown, overflow, forbidden, error).
	Attempts *prometheus.CounterVec
	// Parked is the number of dropped sessions whose missed events this node records.
	Parked prometheus.Gauge
	// Replayed counts missed frames delivered to recovered sessions.
	Replayed prometheus.Counter
}

func newRecoveryMetrics(reg prometheus.Registerer) *RecoveryMetrics {
	m := &RecoveryMetrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "sessions_recovered_total", Help: "CONNECTs that asked for connection-state recovery, by result: recovered, or why a fresh session was given (unknown: no such pid for this user or its window passed; overflow: more missed events than the buffer holds; forbidden: the room is no longer granted; error: Redis)."}, []string{"result"}),
		Parked:   prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "sessions_parked", Help: "Dropped sessions whose missed events this node records for connection-state recovery."}),
		Replayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "recovery_replayed_events_total", Help: "Missed events delivered to recovered sessions."}),
	}
	for _, c := range []prometheus.Collector{m.Attempts, m.Parked, m.Replayed} {
		reg.MustRegister(c)
	}
	return m
}
