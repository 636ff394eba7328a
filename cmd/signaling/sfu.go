package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
	"github.com/switchboard-rtc/switchboard/signaling/rooms"
	"github.com/switchboard-rtc/switchboard/signaling/sfu"
)

// The room directory and the SFU proxy share one Redis client and one directory; run
// asks for the directory when it builds the hub and registers the SFU right after.
var media struct {
	once  sync.Once
	redis redis.UniversalClient // nil without Redis
	rooms hub.RoomDirectory
}

func mediaTier(cfg config.Config, m *metrics.Metrics, log *slog.Logger) {
	media.once.Do(func() {
		if cfg.UsesRedis() {
			opts := redisconn.Options{
				URL: cfg.RedisURL, Addrs: cfg.RedisAddrs, MasterName: cfg.RedisMasterName,
				Username: cfg.RedisUsername, Password: cfg.RedisPassword, TLS: cfg.RedisTLS,
				ClientName: "switchboard-" + cfg.NodeID + "-sfu",
			}
			if cfg.RedisURL == "" {
				opts.Mode = redisconn.Mode(cfg.RedisMode)
			}
			client, err := redisconn.New(opts)
			if err != nil {
				// newBus already failed on the same options; this is unreachable in practice.
				log.Error("redis client for the room cache and SFU state", "err", err)
			} else {
				media.redis = client
			}
		}
		if cfg.RoomServiceURL == "" {
			media.rooms = hub.StaticRooms{Mode: cfg.DefaultRoomMode}
			return
		}
		media.rooms = rooms.New(rooms.Options{
			ServiceURL: cfg.RoomServiceURL, Timeout: cfg.RoomServiceTimeout,
			Redis: media.redis, Metrics: m.SFU, Logger: log,
		})
	})
}

// roomDirectory is the hub's room directory: the Room Service behind its cache, or every
// room in --default-room-mode without a Room Service.
func roomDirectory(cfg config.Config, m *metrics.Metrics, log *slog.Logger) hub.RoomDirectory {
	mediaTier(cfg, m, log)
	return media.rooms
}

// registerSFU adds the sfu_* events, the media circuit breaker and the P2P fallback to h;
// call it before h.Start.
func registerSFU(ctx context.Context, h *hub.Hub, cfg config.Config, m *metrics.Metrics, log *slog.Logger) {
	mediaTier(cfg, m, log)
	svc := sfu.New(sfu.Options{
		MediaURL:                cfg.MediaServiceURL,
		CreateTimeout:           cfg.MediaCreateTimeout,
		CallTimeout:             cfg.MediaCallTimeout,
		BreakerThreshold:        cfg.MediaBreakerThreshold,
		HealthInterval:          cfg.MediaHealthInterval,
		FallbackMaxParticipants: cfg.P2PFallbackMaxParticipants,
		DisableFallback:         cfg.P2PFallbackMaxParticipants == 0,
		Rooms:                   media.rooms,
		Redis:                   media.redis,
		Metrics:                 m.SFU,
		Logger:                  log,
	})
	svc.Register(ctx, h)
	if cfg.MediaServiceURL == "" {
		log.Info("no Media Service configured: sfu_* events answer media_unavailable")
	}
}
