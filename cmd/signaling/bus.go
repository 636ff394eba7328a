package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
)

// bus is the node's link to the other nodes: broker + presence, in memory or on Redis.
type bus struct {
	broker   broker.Broker
	presence presence.Store
	nodes    presence.Nodes
	close    func()
}

func newBus(_ context.Context, cfg config.Config, _ *metrics.Metrics, log *slog.Logger) (*bus, error) {
	if !cfg.UsesRedis() {
		log.Info("no Redis configured: in-memory bus, this node runs alone")
		mem := presence.NewMemory()
		return &bus{broker: broker.NewMemory(nil), presence: mem, nodes: mem, close: func() {}}, nil
	}
	return nil, errors.New("redis bus not wired yet")
}
