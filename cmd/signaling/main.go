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

// Command signaling runs one Switchboard signaling node.
//
//	signaling --dev                       # local try-out: in-memory bus, generated keys, printed tokens
//	signaling --jwt-public-key=key.pem --redis-url=redis://redis:6379/0
//
// See --help for every flag; each is also an environment variable SIGNALING_<FLAG>.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/version"
	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/demo"
	"github.com/switchboard-rtc/switchboard/signaling/node"
	"github.com/switchboard-rtc/switchboard/signaling/server"
)

func main() {
	// Checked before parsing: every flag is also a SIGNALING_* variable, and no environment
	// variable should be able to turn the server into a version printer.
	if version.Requested(os.Args[1:]) {
		fmt.Println(version.String("signaling"))
		return
	}
	cfg, err := config.Parse(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "signaling: invalid configuration:\n%v\n\nRun signaling --help for the flags.\n", err)
		os.Exit(2)
	}
	log := newLogger(cfg, os.Stderr)
	if err := run(cfg, log, os.Stdout); err != nil {
		log.Error("signaling node failed", "err", err)
		os.Exit(1)
	}
}

// run starts the node and blocks until a signal stops it.
func run(cfg config.Config, log *slog.Logger, out io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Each process start is a new incarnation of the node: a container restarted under the
	// same pod name must not be mistaken for the crashed one (whose presence other nodes
	// may be cleaning up right then).
	cfg.NodeID = cfg.NodeID + "-" + newIncarnation()
	log = log.With("node", cfg.NodeID)
	applyMemoryLimit(cfg.MemoryLimitRatio, os.Getenv, cgroupRoot, debug.SetMemoryLimit, log)
	verifier, devKeys, err := newVerifier(ctx, cfg, log)
	if err != nil {
		return err
	}
	n, err := node.New(ctx, node.Options{Config: cfg, Verifier: verifier, Logger: log})
	if err != nil {
		return err
	}
	srv := n.Server
	if devKeys != nil {
		addDevRoutes(srv.Mux(), cfg, devKeys)
	}
	if cfg.Demo {
		demo.Register(srv.Mux(), demo.Options{DevTokens: devKeys != nil})
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	metricsLn, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("metrics: listen on %s: %w", cfg.MetricsListen, err)
	}
	httpSrv := server.NewHTTPServer(n.Handler(), server.HTTPTimeouts{})
	// The metrics listener stays up through the drain, so the drain itself can be watched.
	metricsSrv := server.NewHTTPServer(n.MetricsHandler(), server.HTTPTimeouts{})
	serveErr := make(chan error, 2)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	go func() { serveErr <- fmt.Errorf("metrics listener: %w", metricsSrv.Serve(metricsLn)) }()
	log.Info("signaling node listening", "addr", ln.Addr().String(), "metrics_addr", metricsLn.Addr().String(),
		"redis", cfg.UsesRedis(), "dev", cfg.Dev, "version", version.Version, "gomaxprocs", runtime.GOMAXPROCS(0))
	if devKeys != nil {
		printDevBanner(out, ln.Addr().String(), metricsLn.Addr().String(), cfg, devKeys)
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	stop()
	drainAndStop(cfg, log, n, httpSrv)
	return nil
}

func newVerifier(ctx context.Context, cfg config.Config, log *slog.Logger) (*auth.Verifier, *auth.DevKeys, error) {
	ac := auth.Config{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Leeway: 5 * time.Second}
	var devKeys *auth.DevKeys
	switch {
	case cfg.JWTPublicKey != "":
		k, err := auth.LoadPublicKey(cfg.JWTPublicKey)
		if err != nil {
			return nil, nil, err
		}
		ac.PublicKey = k
	case cfg.Dev && cfg.JWKSURL == "":
		k, err := auth.NewDevKeys()
		if err != nil {
			return nil, nil, err
		}
		devKeys, ac.PublicKey = k, &k.Private.PublicKey
	}
	if cfg.JWKSURL != "" {
		jwks, err := auth.NewJWKS(ctx, auth.JWKSOptions{URL: cfg.JWKSURL, RefreshInterval: cfg.JWKSRefresh, AllowHTTP: cfg.Dev, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		ac.JWKS = jwks
	}
	v, err := auth.NewVerifier(ac)
	return v, devKeys, err
}

func newIncarnation() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
