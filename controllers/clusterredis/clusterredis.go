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

// Package clusterredis is the operator's connection to a SignalingCluster's Redis: the PING of the
// RedisReady condition, the media verdict it stores and announces to the nodes, and the count of
// draining nodes. It imports nothing of Kubernetes, so the signaling tests drive the nodes with the
// operator's own publisher without compiling the operator.
package clusterredis

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/contract"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

// Config is everything needed to connect to a SignalingCluster's Redis.
type Config struct {
	Mode       redisconn.Mode
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	TLS        bool
}

// Conn is what the operator's health monitor needs from Redis.
type Conn interface {
	// Ping checks connectivity and credentials.
	Ping(ctx context.Context) error
	// PublishMediaVerdict stores the verdict with a TTL and, when announce is set, publishes it
	// on the control channel.
	PublishMediaVerdict(ctx context.Context, v contract.MediaVerdict, ttl time.Duration, announce bool) error
	// CountDraining counts node keys whose state is "draining".
	CountDraining(ctx context.Context) (int32, error)
	Close() error
}

// goRedisConn implements Conn with a go-redis UniversalClient.
type goRedisConn struct{ c redis.UniversalClient }

// Dial opens a Conn; connections are lazy, so it does not fail (a configuration error comes back
// from every call). Timeouts are short: a check must not block the monitor for longer than one
// probe interval.
func Dial(cfg Config) Conn {
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
	case redisconn.Sentinel:
		o.Mode, o.MasterName = redisconn.Sentinel, cfg.MasterName
	case redisconn.Cluster:
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
func (b brokenConn) PublishMediaVerdict(context.Context, contract.MediaVerdict, time.Duration, bool) error {
	return b.err
}
func (b brokenConn) CountDraining(context.Context) (int32, error) { return 0, b.err }
func (b brokenConn) Close() error                                 { return nil }

func (g *goRedisConn) Ping(ctx context.Context) error { return g.c.Ping(ctx).Err() }

func (g *goRedisConn) PublishMediaVerdict(ctx context.Context, v contract.MediaVerdict, ttl time.Duration, announce bool) error {
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
