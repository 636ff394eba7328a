/*
Copyright 2026 The Switchboard Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

// bus is the node's link to the other nodes: broker + presence, in memory or on Redis.
type bus struct {
	redis    redis.UniversalClient // nil without Redis; shared with the room cache and SFU state
	broker   broker.Broker
	presence presence.Store
	nodes    presence.Nodes
	close    func()
	// resynced is called when the Redis subscription was re-established after a gap;
	// main points it at the hub once the hub exists.
	resynced func()
}

func newBus(ctx context.Context, cfg config.Config, m *metrics.Metrics, log *slog.Logger) (*bus, error) {
	if !cfg.UsesRedis() {
		log.Info("no Redis configured: in-memory bus, this node runs alone")
		mem := presence.NewMemory()
		return &bus{broker: broker.NewMemory(nil), presence: mem, nodes: mem, close: func() {}, resynced: func() {}}, nil
	}
	client, err := redisconn.New(redisOptions(cfg, ""))
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	// A node starts even when Redis is down (degraded mode, /readyz false); it only logs.
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		log.Warn("Redis is not reachable yet; starting degraded (local users only, not ready)", "err", err)
	}
	store := presence.NewRedis(client, presence.RedisOptions{Metrics: m.Redis})
	bs := &bus{redis: client, presence: store, nodes: store, close: func() { _ = client.Close() }, resynced: func() {}}
	bs.broker = broker.NewRedis(client, broker.RedisOptions{NodeID: cfg.NodeID, Metrics: m.Redis, Logger: log,
		OnResubscribed: func() { bs.resynced() }})
	return bs, nil
}

// redisOptions turns the --redis-* flags into client options; purpose ("", "chat") names
// the connection pool in CLIENT LIST.
func redisOptions(cfg config.Config, purpose string) redisconn.Options {
	name := "switchboard-" + cfg.NodeID
	if purpose != "" {
		name += "-" + purpose
	}
	o := redisconn.Options{
		URL: cfg.RedisURL, Addrs: cfg.RedisAddrs, MasterName: cfg.RedisMasterName,
		Username: cfg.RedisUsername, Password: cfg.RedisPassword, TLS: cfg.RedisTLS,
		ClientName: name,
	}
	if cfg.RedisURL == "" {
		// With a URL the scheme names the mode; --redis-mode applies to --redis-addrs.
		o.Mode = redisconn.Mode(cfg.RedisMode)
	}
	return o
}
