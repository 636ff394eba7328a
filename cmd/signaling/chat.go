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

	"github.com/switchboard-rtc/switchboard/signaling/chat"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

// newChatLog builds the chat buffer and flusher (docs/chat.md): in Redis Streams when the
// node has Redis, in memory otherwise. It has its own Redis connection pool so chat
// traffic never queues behind (or in front of) presence and pub/sub.
//
// The returned stop function is the shutdown hook: it delivers what this node holds until
// ctx ends (what is left stays in Redis for the other nodes), then closes the pool.
func newChatLog(cfg config.Config, m *metrics.Metrics, log *slog.Logger) (*chat.Log, func(context.Context), error) {
	opts := chat.Options{
		NodeID:         cfg.NodeID,
		ServiceURL:     cfg.ChatServiceURL,
		ServiceTimeout: cfg.ChatServiceTimeout,
		History:        cfg.ChatHistory,
		HistoryTTL:     cfg.ChatHistoryTTL,
		MaxRoomBuffer:  cfg.ChatBufferRoom,
		MaxTotalBuffer: cfg.ChatBufferTotal,
		Rate:           cfg.ChatRate,
		Burst:          cfg.ChatBurst,
		BatchSize:      cfg.ChatBatchSize,
		FlushInterval:  cfg.ChatFlushInterval,
		ClaimIdle:      cfg.ChatClaimIdle,
		Metrics:        m.Chat,
		Logger:         log,
	}
	if cfg.ChatServiceURL == "" {
		log.Info("no --chat-service-url: chat history only, messages are not persisted")
	}
	if !cfg.UsesRedis() {
		l := chat.NewMemory(opts)
		return l, func(ctx context.Context) { _ = l.Close(ctx) }, nil
	}
	client, err := redisconn.New(redisOptions(cfg, "chat"))
	if err != nil {
		return nil, nil, fmt.Errorf("redis (chat): %w", err)
	}
	l := chat.NewRedis(client, opts)
	return l, func(ctx context.Context) {
		_ = l.Close(ctx)
		_ = client.Close()
	}, nil
}
