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
	"github.com/switchboard-rtc/switchboard/internal/contract"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

// MediaVerdict is the JSON stored at contract.MediaHealthKey.
type MediaVerdict = contract.MediaVerdict

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

// NewHTTPMediaProber returns the production MediaProber. It connects directly (no proxy from
// the environment) and only to addresses the policy allows (probeguard.go).
func NewHTTPMediaProber(policy ProbeAddressPolicy) MediaProber {
	dialer := &net.Dialer{Timeout: 30 * time.Second, Control: policy.dialControl}
	return &httpMediaProber{client: &http.Client{
		// Each probe opens a fresh connection: a dead SFU must not hide behind a pooled socket.
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (p *httpMediaProber) Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &ProbeError{Message: fmt.Sprintf("GET %s: invalid request", url), Err: err}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return classifyProbeError(url, err)
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
	o := redisconn.Options{
		Mode:         redisconn.Standalone,
		Addrs:        cfg.Addrs,
		Username:     cfg.Username,
		Password:     cfg.Password,
		TLS:          cfg.TLS,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		PoolSize:     2,
		MaxRetries:   -1,
		ClientName:   "switchboard-operator",
	}
	switch cfg.Mode {
	case v1alpha1.RedisModeSentinel:
		o.Mode, o.MasterName = redisconn.Sentinel, cfg.MasterName
	case v1alpha1.RedisModeCluster:
		o.Mode = redisconn.Cluster
	default:
		if len(cfg.Addrs) > 1 {
			o.Addrs = cfg.Addrs[:1]
		}
	}
	c, err := redisconn.New(o)
	if err != nil {
		return brokenConn{err}
	}
	return &goRedisConn{c: c}
}

// brokenConn answers every call with the configuration error that prevented a client.
type brokenConn struct{ err error }

func (b brokenConn) Ping(context.Context) error { return b.err }
func (b brokenConn) PublishMediaVerdict(context.Context, MediaVerdict, time.Duration, bool) error {
	return b.err
}
func (b brokenConn) CountDraining(context.Context) (int32, error) { return 0, b.err }
func (b brokenConn) Close() error                                 { return nil }

func (g *goRedisConn) Ping(ctx context.Context) error { return g.c.Ping(ctx).Err() }

func (g *goRedisConn) PublishMediaVerdict(ctx context.Context, v MediaVerdict, ttl time.Duration, announce bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := g.c.Set(ctx, contract.MediaHealthKey, b, ttl).Err(); err != nil {
		return fmt.Errorf("SET %s: %w", contract.MediaHealthKey, err)
	}
	if !announce {
		return nil
	}
	msg, err := json.Marshal(v.Notice())
	if err != nil {
		return err
	}
	if err := g.c.Publish(ctx, contract.ControlChannel, msg).Err(); err != nil {
		return fmt.Errorf("PUBLISH %s: %w", contract.ControlChannel, err)
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

func countDraining(ctx context.Context, c scanner) (int32, error) {
	var n int32
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, contract.NodeKeyPattern, 500).Result()
		if err != nil {
			return n, err
		}
		for _, k := range keys {
			v, err := c.Get(ctx, k).Result()
			if err != nil {
				continue // expired between SCAN and GET, or another type
			}
			var rec contract.NodeRecord
			if json.Unmarshal([]byte(v), &rec) == nil && rec.State == contract.NodeDraining {
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
