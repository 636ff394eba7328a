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

package controllers

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// Redis keys and channel shared with the signaling nodes (docs/backends.md §The operator ↔ node contract).
const (
	MediaHealthKey = "media:health"
	ControlChannel = "channel:control"
	// nodeKeyPattern matches the node:{<nodeId>} keys of the signaling nodes.
	nodeKeyPattern = "node:{*}"
)

// MediaVerdict is the JSON stored at media:health.
type MediaVerdict struct {
	Healthy   bool   `json:"healthy"`
	Reason    string `json:"reason"`
	CheckedAt int64  `json:"checkedAt"`
	Cluster   string `json:"cluster"`
}

// MediaHealthMessage is the JSON published on channel:control.
type MediaHealthMessage struct {
	Type    string `json:"type"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason"`
	At      int64  `json:"at"`
}

// MediaProber probes the media service's health endpoint once.
type MediaProber interface {
	// Probe returns nil when the endpoint answered 2xx within the context's deadline.
	Probe(ctx context.Context, url string) error
}

// RedisConfig is everything needed to connect to a SignalingCluster's Redis.
type RedisConfig struct {
	Mode       v1alpha1.RedisMode
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	TLS        bool
}

// RedisConn is what the health monitor needs from Redis.
type RedisConn interface {
	// Ping checks connectivity and credentials.
	Ping(ctx context.Context) error
	// PublishMediaVerdict stores the verdict with a TTL and, when announce is set, publishes it
	// on the control channel.
	PublishMediaVerdict(ctx context.Context, v MediaVerdict, ttl time.Duration, announce bool) error
	// CountDraining counts node keys whose state is "draining".
	CountDraining(ctx context.Context) (int32, error)
	Close() error
}

// RedisDialer opens a RedisConn; connections are lazy, so it does not fail.
type RedisDialer func(RedisConfig) RedisConn

// httpMediaProber probes with a plain GET.
type httpMediaProber struct{ client *http.Client }

// NewHTTPMediaProber returns the production MediaProber.
func NewHTTPMediaProber() MediaProber {
	return &httpMediaProber{client: &http.Client{
		// Each probe opens a fresh connection: a dead SFU must not hide behind a pooled socket.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (p *httpMediaProber) Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("GET %s: timeout", url)
		}
		var oe *net.OpError
		if errors.As(err, &oe) {
			return fmt.Errorf("GET %s: %s", url, oe.Err)
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// goRedisConn implements RedisConn with a go-redis UniversalClient.
type goRedisConn struct{ c redis.UniversalClient }

// DialGoRedis is the production RedisDialer. Timeouts are short: a check must not block the
// monitor for longer than one probe interval.
func DialGoRedis(cfg RedisConfig) RedisConn {
	opts := &redis.UniversalOptions{
		Addrs:           cfg.Addrs,
		Username:        cfg.Username,
		Password:        cfg.Password,
		DialTimeout:     2 * time.Second,
		ReadTimeout:     2 * time.Second,
		WriteTimeout:    2 * time.Second,
		PoolSize:        2,
		MaxRetries:      -1,
		DisableIdentity: true,
	}
	switch cfg.Mode {
	case v1alpha1.RedisModeSentinel:
		opts.MasterName = cfg.MasterName
	case v1alpha1.RedisModeCluster:
		opts.IsClusterMode = true
	default:
		if len(cfg.Addrs) > 1 {
			opts.Addrs = cfg.Addrs[:1]
		}
	}
	if cfg.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &goRedisConn{c: redis.NewUniversalClient(opts)}
}

func (g *goRedisConn) Ping(ctx context.Context) error { return g.c.Ping(ctx).Err() }

func (g *goRedisConn) PublishMediaVerdict(ctx context.Context, v MediaVerdict, ttl time.Duration, announce bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := g.c.Set(ctx, MediaHealthKey, b, ttl).Err(); err != nil {
		return fmt.Errorf("SET %s: %w", MediaHealthKey, err)
	}
	if !announce {
		return nil
	}
	msg, err := json.Marshal(MediaHealthMessage{Type: "media_health", Healthy: v.Healthy, Reason: v.Reason, At: v.CheckedAt})
	if err != nil {
		return err
	}
	if err := g.c.Publish(ctx, ControlChannel, msg).Err(); err != nil {
		return fmt.Errorf("PUBLISH %s: %w", ControlChannel, err)
	}
	return nil
}

func (g *goRedisConn) CountDraining(ctx context.Context) (int32, error) {
	if cc, ok := g.c.(*redis.ClusterClient); ok {
		var total atomic.Int32
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			n, err := countDraining(ctx, c)
			total.Add(n)
			return err
		})
		return total.Load(), err
	}
	return countDraining(ctx, g.c)
}

type scanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd
	Get(ctx context.Context, key string) *redis.StringCmd
}

// nodeState is the part of a node:{id} value the operator reads.
type nodeState struct {
	State string `json:"state"`
}

func countDraining(ctx context.Context, c scanner) (int32, error) {
	var n int32
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, nodeKeyPattern, 500).Result()
		if err != nil {
			return n, err
		}
		for _, k := range keys {
			v, err := c.Get(ctx, k).Result()
			if err != nil {
				continue // expired between SCAN and GET, or another type
			}
			var st nodeState
			if json.Unmarshal([]byte(v), &st) == nil && st.State == "draining" {
				n++
			}
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

func (g *goRedisConn) Close() error { return g.c.Close() }

// classifyRedisError maps a PING error to a RedisReady reason.
func classifyRedisError(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "NOAUTH"),
		strings.Contains(msg, "invalid password"), strings.Contains(msg, "invalid username-password"):
		return v1alpha1.ReasonRedisAuthFailed
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "no such host") {
		return v1alpha1.ReasonRedisUnreachable
	}
	return v1alpha1.ReasonRedisPingFailed
}
