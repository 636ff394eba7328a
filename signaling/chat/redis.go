package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// Redis layout (docs/chat.md). The room id sits inside {…} so that, with Redis Cluster,
// a room's keys share a slot and the scripts below touch one slot each.
const (
	group    = "flushers"   // consumer group of every buffer stream; consumers are node ids
	roomsKey = "chat:rooms" // set of room ids whose buffer may hold messages
	field    = "m"          // stream entry field: the message JSON
)

func bufferKey(room string) string  { return "chat:buffer:{" + room + "}" }
func historyKey(room string) string { return "chat:history:{" + room + "}" }

// appendScript buffers one message and records it in the history, atomically.
// KEYS: buffer, history. ARGV: message JSON, room bound (0 = history only), history
// length, history TTL (ms). Returns -1 when the room's buffer is full.
var appendScript = redis.NewScript(`
if tonumber(ARGV[2]) > 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('XGROUP', 'CREATE', KEYS[1], 'flushers', '0', 'MKSTREAM')
  end
  if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then
    return -1
  end
  redis.call('XADD', KEYS[1], '*', 'm', ARGV[1])
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
`)

// removeScript acknowledges and deletes delivered entries in one step, so no entry can
// stay in the stream acknowledged (never redelivered, yet counted) after a crash.
// KEYS: buffer. ARGV: entry ids.
var removeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('XACK', KEYS[1], 'flushers', unpack(ARGV))
return redis.call('XDEL', KEYS[1], unpack(ARGV))
`)

// dropEmptyScript deletes a buffer stream that holds nothing (its group goes with it and
// is re-created by the next append). KEYS: buffer.
var dropEmptyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

// redisStore keeps the buffer and history in Redis, shared by every node.
type redisStore struct {
	c         redis.UniversalClient
	consumer  string
	keep      int
	ttl       time.Duration
	claimIdle time.Duration

	batch *appendBatcher // nil with Redis Cluster: appends go one by one

	mu     sync.Mutex
	cursor map[string]string // XAUTOCLAIM cursor per room
}

// NewRedis returns a Log that buffers in Redis Streams: a message acknowledged to its
// sender survives this node's crash (another node delivers it) and, with an AOF written
// with appendfsync always (or replicas), a Redis restart.
func NewRedis(c redis.UniversalClient, opts Options) *Log {
	opts.withDefaults()
	_, isCluster := c.(*redis.ClusterClient)
	s := &redisStore{c: c, consumer: opts.NodeID, keep: opts.History, ttl: opts.HistoryTTL,
		claimIdle: opts.ClaimIdle, cursor: map[string]string{}}
	if !isCluster {
		s.batch = &appendBatcher{c: c, timeout: opts.RedisTimeout}
	}
	return start(opts, s)
}

func (s *redisStore) append(ctx context.Context, m vocab.ChatMessage, buffer bool, maxRoom int) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	bound := 0
	if buffer {
		bound = maxRoom
	}
	keys := []string{bufferKey(m.RoomID), historyKey(m.RoomID)}
	args := []any{data, bound, s.keep, s.ttl.Milliseconds()}
	var v int64
	if s.batch != nil {
		// The index entry comes after the XADD (see dropEmpty for why that order
		// matters): the batcher's pipeline keeps that order on one connection.
		v, err = s.batch.do(&appendCall{ctx: ctx, keys: keys, args: args, room: m.RoomID, buffer: buffer})
	} else {
		// Redis Cluster: a pipeline may not keep the order, so the calls go one by one.
		v, err = appendScript.Run(ctx, s.c, keys, args...).Int64()
		if err == nil && buffer && v >= 0 {
			if err := s.c.SAdd(ctx, roomsKey, m.RoomID).Err(); err != nil {
				return fmt.Errorf("index room: %w", err)
			}
		}
	}
	if err != nil {
		return err
	}
	if v < 0 {
		return errRoomFull
	}
	return nil
}

func (s *redisStore) recent(ctx context.Context, room string, n int) ([]vocab.ChatMessage, error) {
	xs, err := s.c.XRevRangeN(ctx, historyKey(room), "+", "-", int64(n)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]vocab.ChatMessage, 0, len(xs))
	for i := len(xs) - 1; i >= 0; i-- {
		if m, ok := decode(xs[i]); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

func decode(x redis.XMessage) (vocab.ChatMessage, bool) {
	var m vocab.ChatMessage
	raw, ok := x.Values[field].(string)
	if !ok {
		return m, false
	}
	return m, json.Unmarshal([]byte(raw), &m) == nil
}

// claim collects a batch across rooms: first the messages this node already holds
// (pending to its consumer: a failed batch, or a batch from before a restart), then, with
// others, messages other consumers have held for claimIdle (a dead node), then new ones.
func (s *redisStore) claim(ctx context.Context, max int, others bool) ([]entry, error) {
	rooms, err := s.c.SMembers(ctx, roomsKey).Result()
	if err != nil || len(rooms) == 0 {
		return nil, err
	}
	rand.Shuffle(len(rooms), func(i, j int) { rooms[i], rooms[j] = rooms[j], rooms[i] })

	var out []entry
	seen := map[string]bool{} // rooms that had anything for this node
	var orphans []entry
	take := func(room string, xs []redis.XMessage) {
		for _, x := range xs {
			seen[room] = true
			if m, ok := decode(x); ok {
				out = append(out, entry{Room: room, ID: x.ID, Msg: m})
			} else {
				// Deleted (or unreadable) entry still listed as pending: acknowledge it away.
				orphans = append(orphans, entry{Room: room, ID: x.ID})
			}
		}
	}

	// 1. Own pending entries. Reading them again resets their idle time, so no other node
	// takes them over while this node keeps retrying.
	if err := s.readRooms(ctx, rooms, max, true, take); err != nil {
		return nil, err
	}
	// 2. Entries a dead (or very slow) node has held for longer than claimIdle.
	if others && len(out) < max {
		if err := s.autoClaim(ctx, rooms, max-len(out), take); err != nil {
			return nil, err
		}
	}
	// 3. New entries.
	if len(out) < max {
		if err := s.readRooms(ctx, rooms, max-len(out), false, take); err != nil {
			return nil, err
		}
	}
	if len(orphans) > 0 {
		for _, e := range orphans {
			_ = s.c.XAck(ctx, bufferKey(e.Room), group, e.ID).Err()
		}
	}
	var idle []string
	for _, r := range rooms {
		if !seen[r] {
			idle = append(idle, r)
		}
	}
	if len(idle) > 0 {
		s.dropEmpty(ctx, idle)
	}
	return out, nil
}

// readRooms reads up to budget entries over rooms with XREADGROUP, sharing the budget
// between the rooms that still have entries (a few pipelined rounds). pending reads this
// consumer's pending entries, otherwise never-delivered ones.
func (s *redisStore) readRooms(ctx context.Context, rooms []string, budget int, pending bool, take func(string, []redis.XMessage)) error {
	from := map[string]string{}
	cands := rooms
	for round := 0; budget > 0 && len(cands) > 0 && round < 4; round++ {
		per := max(1, (budget+len(cands)-1)/len(cands))
		pipe := s.c.Pipeline()
		cmds := make([]*redis.XStreamSliceCmd, len(cands))
		for i, r := range cands {
			id := ">"
			if pending {
				if id = from[r]; id == "" {
					id = "0"
				}
			}
			cmds[i] = pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: s.consumer,
				Streams: []string{bufferKey(r), id}, Count: int64(per), Block: -1})
		}
		_, _ = pipe.Exec(ctx)
		var next []string
		for i, r := range cands {
			xs, err := streamResult(cmds[i])
			if err != nil {
				if isNoGroup(err) {
					continue
				}
				return err
			}
			if len(xs) > budget {
				// This round's shares overshot: the rest stays pending to this node
				// and is read first next time.
				xs = xs[:budget]
			}
			take(r, xs)
			budget -= len(xs)
			if len(xs) == per {
				next = append(next, r)
				from[r] = xs[len(xs)-1].ID
			}
		}
		cands = next
	}
	return nil
}

func (s *redisStore) autoClaim(ctx context.Context, rooms []string, budget int, take func(string, []redis.XMessage)) error {
	per := int64(max(1, (budget+len(rooms)-1)/len(rooms)))
	pipe := s.c.Pipeline()
	cmds := make([]*redis.XAutoClaimCmd, len(rooms))
	s.mu.Lock()
	for i, r := range rooms {
		start := s.cursor[r]
		if start == "" {
			start = "0-0"
		}
		cmds[i] = pipe.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: bufferKey(r), Group: group,
			Consumer: s.consumer, MinIdle: s.claimIdle, Start: start, Count: per})
	}
	s.mu.Unlock()
	_, _ = pipe.Exec(ctx)
	for i, r := range rooms {
		xs, next, err := cmds[i].Result()
		if err != nil {
			if isNoGroup(err) || errors.Is(err, redis.Nil) {
				continue
			}
			return err
		}
		s.mu.Lock()
		s.cursor[r] = next
		s.mu.Unlock()
		take(r, xs)
	}
	return nil
}

func streamResult(cmd *redis.XStreamSliceCmd) ([]redis.XMessage, error) {
	streams, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var xs []redis.XMessage
	for _, st := range streams {
		xs = append(xs, st.Messages...)
	}
	return xs, nil
}

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// dropEmpty removes rooms with an empty buffer from the index. Appends XADD before they
// SADD; here the order is: delete the empty stream, SREM, then look again and SADD back
// if a message arrived meanwhile. Whichever way the two interleave, a room holding a
// message ends up in the index.
func (s *redisStore) dropEmpty(ctx context.Context, rooms []string) {
	for _, r := range rooms {
		if err := dropEmptyScript.Run(ctx, s.c, []string{bufferKey(r)}).Err(); err != nil {
			continue
		}
		if n, err := s.c.XLen(ctx, bufferKey(r)).Result(); err != nil || n > 0 {
			continue
		}
		if err := s.c.SRem(ctx, roomsKey, r).Err(); err != nil {
			continue
		}
		if n, err := s.c.XLen(ctx, bufferKey(r)).Result(); err != nil || n > 0 {
			_ = s.c.SAdd(ctx, roomsKey, r).Err()
		}
		s.mu.Lock()
		delete(s.cursor, r)
		s.mu.Unlock()
	}
}

func (s *redisStore) remove(ctx context.Context, es []entry) error {
	byRoom := map[string][]any{}
	for _, e := range es {
		byRoom[e.Room] = append(byRoom[e.Room], e.ID)
	}
	for room, ids := range byRoom {
		if err := removeScript.Run(ctx, s.c, []string{bufferKey(room)}, ids...).Err(); err != nil {
			return err
		}
	}
	return nil
}

// release is a no-op: a failed batch stays pending to this node's consumer and is read
// again (from id 0) by the next claim.
func (s *redisStore) release([]entry) {}

func (s *redisStore) outlivesNode() bool { return true }

func (s *redisStore) census(ctx context.Context) (int, time.Time, error) {
	rooms, err := s.c.SMembers(ctx, roomsKey).Result()
	if err != nil || len(rooms) == 0 {
		return 0, time.Time{}, err
	}
	pipe := s.c.Pipeline()
	lens := make([]*redis.IntCmd, len(rooms))
	firsts := make([]*redis.XMessageSliceCmd, len(rooms))
	for i, r := range rooms {
		lens[i] = pipe.XLen(ctx, bufferKey(r))
		firsts[i] = pipe.XRangeN(ctx, bufferKey(r), "-", "+", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, time.Time{}, err
	}
	depth := 0
	var oldest time.Time
	for i := range rooms {
		depth += int(lens[i].Val())
		if xs := firsts[i].Val(); len(xs) > 0 {
			if t, ok := idTime(xs[0].ID); ok && (oldest.IsZero() || t.Before(oldest)) {
				oldest = t
			}
		}
	}
	return depth, oldest, nil
}

// idTime is the time part of a stream entry id ("<ms>-<seq>").
func idTime(id string) (time.Time, bool) {
	ms, _, ok := strings.Cut(id, "-")
	if !ok {
		return time.Time{}, false
	}
	v, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(v), true
}
