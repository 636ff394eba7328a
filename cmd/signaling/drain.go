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
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/node"
)

// closeMargin is kept at the end of --drain-timeout for the final clean-up (presence,
// node key, Redis connections) after the last socket is closed.
const closeMargin = 3 * time.Second

// drainAndStop runs the SIGTERM sequence (docs/operations.md):
//  1. /readyz fails and new upgrades get 503 + Retry-After at once;
//  2. the node is marked draining in Redis and its sockets are closed on a spread-out,
//     jittered schedule (hub.Drain); their users keep their rooms for the reconnection
//     window and come back through other nodes;
//  3. flushers and presence are cleaned up, Redis is closed, and the process exits 0
//     before --drain-timeout. A second SIGTERM/SIGINT exits at once with status 1.
func drainAndStop(cfg config.Config, log *slog.Logger, n *node.Node, httpSrv *http.Server) {
	start := time.Now()
	deadline := start.Add(cfg.DrainTimeout)
	n.Server.SetDraining(cfg.DrainReconnectJitter + time.Second)
	_ = httpSrv.Close() // stop accepting; hijacked WebSockets are not affected

	second := make(chan os.Signal, 1)
	signal.Notify(second, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-second
		log.Warn("second signal: exiting now without finishing the drain")
		os.Exit(1)
	}()

	drainCtx, cancel := context.WithDeadline(context.Background(), deadline.Add(-closeMargin))
	defer cancel()
	res := n.Drain(drainCtx, drainSpread(cfg))
	log.Info("drain finished", "sessions", res.Sessions, "closed", res.Closed, "stragglers", res.Stragglers,
		"windows_left", res.WindowsLeft, "took", res.Took, "since_sigterm", time.Since(start))

	closeCtx, cancelClose := context.WithDeadline(context.Background(), deadline)
	defer cancelClose()
	n.Close(closeCtx)
	log.Info("stopped", "took", time.Since(start))
}

// drainSpread leaves room after the last close for the reconnection windows (which a
// drain extends by the reconnect jitter) to end and for the final clean-up, inside
// --drain-timeout.
func drainSpread(cfg config.Config) time.Duration {
	spread := cfg.DrainTimeout - cfg.ReconnectWindow - cfg.DrainReconnectJitter - closeMargin - time.Second
	if spread < cfg.DrainTimeout/4 {
		spread = cfg.DrainTimeout / 4
	}
	return spread
}
