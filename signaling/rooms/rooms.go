// Package rooms is the node's read-through cache of the Room Service (docs/backends.md §Room Service): join_room
// asks it whether a room exists, in which mode it runs, how many may join and, when the Room
// Service lists them, who may join (`members`).
//
// A lookup reads `room:{roomId}` from Redis (or an in-memory cache without Redis); on a miss
// it calls `GET {base}/internal/rooms/{roomId}`, stores the answer with a one-hour TTL and
// returns it. Concurrent misses for one room on one node share one upstream call.
package rooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// DefaultTTL is how long a Room Service answer is cached.
const DefaultTTL = time.Hour

// Key is the Redis key of a room's cached description.
func Key(roomID string) string { return "room:{" + roomID + "}" }

// ErrUpstream wraps Room Service failures (5xx, timeout, refused, undecodable answer).
var ErrUpstream = errors.New("room service unavailable")

// Options configure a Cache.
type Options struct {
	// ServiceURL is the Room Service base URL (required).
	ServiceURL string
	// Timeout bounds one Room Service call (default 3 s).
	Timeout time.Duration
	// Redis holds the shared cache; nil keeps the cache in this process.
	Redis redis.UniversalClient
	// TTL of a cached answer (default DefaultTTL).
	TTL time.Duration
	// NotFoundTTL: how long this node remembers a 404 (default DefaultNotFoundTTL).
	NotFoundTTL time.Duration
	HTTPClient  *http.Client
	Metrics     *metrics.SFUMetrics // nil = not counted
	Logger      *slog.Logger
}

// Cache implements vocab.RoomDirectory on top of the Room Service.
type Cache struct {
	opts   Options
	base   string
	log    *slog.Logger
	flight singleflight.Group
	absent notFoundCache

	mu  sync.Mutex
	mem map[string]memEntry // used without Redis
}

type memEntry struct {
	info    vocab.RoomInfo
	expires time.Time
}

var _ vocab.RoomDirectory = (*Cache)(nil)

// New returns a cache in front of the Room Service at opts.ServiceURL.
func New(opts Options) *Cache {
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Second
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.NotFoundTTL <= 0 {
		opts.NotFoundTTL = DefaultNotFoundTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{
		opts:   opts,
		base:   strings.TrimRight(opts.ServiceURL, "/"),
		log:    opts.Logger,
		mem:    map[string]memEntry{},
		absent: notFoundCache{ttl: opts.NotFoundTTL},
	}
}

// Lookup returns the room's description: from the cache, or from the Room Service on a
// miss. A room the Room Service does not know gives vocab.ErrRoomNotFound; a Room Service
// failure with nothing cached gives an error wrapping ErrUpstream.
func (c *Cache) Lookup(ctx context.Context, roomID string) (vocab.RoomInfo, error) {
	if info, ok := c.cached(ctx, roomID); ok {
		c.count("hit")
		return info, nil
	}
	if c.absent.has(roomID, time.Now()) {
		c.count("not_found_hit")
		return vocab.RoomInfo{}, vocab.ErrRoomNotFound
	}
	c.count("miss")
	// The shared call must not die with the first caller's context: the others wait
	// on it too. Each caller still stops waiting when its own context ends.
	ch := c.flight.DoChan(roomID, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout+time.Second)
		defer cancel()
		// A caller that missed just before the previous flight stored its answer lands
		// here after that flight ended: look again before asking the Room Service.
		if info, ok := c.cached(fctx, roomID); ok {
			return info, nil
		}
		info, err := c.fetch(fctx, roomID)
		if errors.Is(err, vocab.ErrRoomNotFound) {
			c.absent.add(roomID, time.Now())
		}
		if err != nil {
			return vocab.RoomInfo{}, err
		}
		c.store(fctx, info)
		return info, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return vocab.RoomInfo{}, r.Err
		}
		return r.Val.(vocab.RoomInfo), nil
	case <-ctx.Done():
		return vocab.RoomInfo{}, ctx.Err()
	}
}

// Invalidate drops the cached copy of a room (the next lookup asks the Room Service).
func (c *Cache) Invalidate(ctx context.Context, roomID string) error {
	c.mu.Lock()
	delete(c.mem, roomID)
	c.mu.Unlock()
	c.absent.forget(roomID)
	if c.opts.Redis != nil {
		return c.opts.Redis.Del(ctx, Key(roomID)).Err()
	}
	return nil
}

func (c *Cache) count(result string) {
	if c.opts.Metrics != nil {
		c.opts.Metrics.RoomCache.WithLabelValues(result).Inc()
	}
}

// cached reads the cache. A Redis error counts as a miss: the Room Service is the source
// of truth and a join should not fail only because the cache is unreachable.
func (c *Cache) cached(ctx context.Context, roomID string) (vocab.RoomInfo, bool) {
	if c.opts.Redis == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		e, ok := c.mem[roomID]
		if !ok {
			return vocab.RoomInfo{}, false
		}
		if time.Now().After(e.expires) {
			delete(c.mem, roomID)
			return vocab.RoomInfo{}, false
		}
		return e.info, true
	}
	raw, err := c.opts.Redis.Get(ctx, Key(roomID)).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.log.Warn("room cache read failed; asking the Room Service", "room", roomID, "err", err)
		}
		return vocab.RoomInfo{}, false
	}
	var e cacheEntry
	if err := json.Unmarshal(raw, &e); err != nil || !validMode(e.Mode) {
		c.log.Warn("room cache entry is not valid; asking the Room Service", "room", roomID, "value", string(raw))
		return vocab.RoomInfo{}, false
	}
	if e.Schema < cacheSchema {
		return vocab.RoomInfo{}, false // written without the member list: ask again
	}
	e.ID = roomID
	return e.RoomInfo, true
}

// cacheSchema marks Redis entries that carry the Room Service's member list. An entry
// without it was written by a node that did not know `members` (during an upgrade): read
// as "unrestricted" it would let anyone into a members-only room for up to the TTL, so it
// counts as a miss.
const cacheSchema = 2

type cacheEntry struct {
	vocab.RoomInfo
	Schema int `json:"schema"`
}

func (c *Cache) store(ctx context.Context, info vocab.RoomInfo) {
	if c.opts.Redis == nil {
		c.mu.Lock()
		c.mem[info.ID] = memEntry{info: info, expires: time.Now().Add(c.opts.TTL)}
		c.mu.Unlock()
		return
	}
	b, _ := json.Marshal(cacheEntry{RoomInfo: info, Schema: cacheSchema})
	if err := c.opts.Redis.Set(ctx, Key(info.ID), b, c.opts.TTL).Err(); err != nil {
		c.log.Warn("room cache write failed", "room", info.ID, "err", err)
	}
}

func (c *Cache) fetch(ctx context.Context, roomID string) (vocab.RoomInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	u := c.base + "/internal/rooms/" + url.PathEscape(roomID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return vocab.RoomInfo{}, fmt.Errorf("room service request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		c.outcome("error")
		return vocab.RoomInfo{}, fmt.Errorf("%w: GET %s: %w", ErrUpstream, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		c.outcome("error")
		return vocab.RoomInfo{}, fmt.Errorf("%w: GET %s: reading the answer: %w", ErrUpstream, u, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		c.outcome("not_found")
		return vocab.RoomInfo{}, vocab.ErrRoomNotFound
	case resp.StatusCode != http.StatusOK:
		c.outcome("error")
		return vocab.RoomInfo{}, fmt.Errorf("%w: GET %s: HTTP %d", ErrUpstream, u, resp.StatusCode)
	}
	var info vocab.RoomInfo
	if err := json.Unmarshal(body, &info); err != nil {
		c.outcome("error")
		return vocab.RoomInfo{}, fmt.Errorf("%w: GET %s: undecodable answer: %w", ErrUpstream, u, err)
	}
	if info.Mode == "" {
		info.Mode = vocab.ModeP2P
	}
	if !validMode(info.Mode) || info.MaxParticipants < 0 {
		c.outcome("error")
		return vocab.RoomInfo{}, fmt.Errorf("%w: GET %s: invalid answer %s", ErrUpstream, u, body)
	}
	info.ID = roomID
	c.outcome("ok")
	return info, nil
}

func (c *Cache) outcome(o string) {
	if c.opts.Metrics != nil {
		c.opts.Metrics.RoomService.WithLabelValues(o).Inc()
	}
}

func validMode(m string) bool { return m == vocab.ModeP2P || m == vocab.ModeSFU }
