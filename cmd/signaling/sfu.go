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
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/rooms"
	"github.com/switchboard-rtc/switchboard/signaling/sfu"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// roomDirectory is the hub's room directory: the Room Service behind its cache (in Redis
// when the node has Redis), or every room in --default-room-mode without a Room Service.
func roomDirectory(cfg config.Config, rc redis.UniversalClient, m *metrics.Metrics, log *slog.Logger) vocab.RoomDirectory {
	if cfg.RoomServiceURL == "" {
		return vocab.StaticRooms{Mode: cfg.DefaultRoomMode}
	}
	return rooms.New(rooms.Options{
		ServiceURL: cfg.RoomServiceURL, Timeout: cfg.RoomServiceTimeout,
		Redis: rc, Metrics: m.SFU, Logger: log,
	})
}

// registerSFU adds the sfu_* events, the media circuit breaker and the P2P fallback to h;
// call it before h.Start.
func registerSFU(ctx context.Context, h *hub.Hub, cfg config.Config, dir vocab.RoomDirectory, rc redis.UniversalClient, m *metrics.Metrics, log *slog.Logger) {
	svc := sfu.New(sfu.Options{
		MediaURL:                cfg.MediaServiceURL,
		CreateTimeout:           cfg.MediaCreateTimeout,
		CallTimeout:             cfg.MediaCallTimeout,
		BreakerThreshold:        cfg.MediaBreakerThreshold,
		HealthInterval:          cfg.MediaHealthInterval,
		FallbackMaxParticipants: cfg.P2PFallbackMaxParticipants,
		DisableFallback:         cfg.P2PFallbackMaxParticipants == 0,
		Rooms:                   dir,
		Redis:                   rc,
		Metrics:                 m.SFU,
		Logger:                  log,
	})
	svc.Register(ctx, h)
	if cfg.MediaServiceURL == "" {
		log.Info("no Media Service configured: sfu_* events answer media_unavailable")
	}
}
