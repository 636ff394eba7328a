package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/contract"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

// Redis keys (docs/backends.md §Redis layout plus the extra keys documented in docs/redis.md).
// The id in braces is the Redis Cluster hash tag: every key of one room shares a slot,
// every key of one user shares another, every key of one node a third.
func membersKey(room string) string        { return "room:{" + room + "}:members" }
func roomNodesKey(room string) string      { return "room:{" + room + "}:nodes" }
func presenceKey(room, user string) string { return "presence:{" + room + "}:" + user }
func userNodeKey(user string) string       { return "user:{" + user + "}:node" }
func disconnectingKey(user string) string  { return "disconnecting:{" + user + "}" }
func nodeKey(node string) string           { return contract.NodeKey(node) }
func nodeRoomsKey(node string) string      { return "node:{" + node + "}:rooms" }
func nodeReaperKey(node string) string     { return "node:{" + node + "}:reaper" }

// NodesRegistryKey is the set of every node id that ever heartbeated and was not reaped.
const NodesRegistryKey = "nodes:{registry}"

// Keys exposes the key names for tests and tools.
var Keys = struct {
	Members, RoomNodes, UserNode, Disconnecting, Node, NodeRooms, NodeReaper func(string) string
	Presence                                                                 func(room, user string) string
}{membersKey, roomNodesKey, userNodeKey, disconnectingKey, nodeKey, nodeRoomsKey, nodeReaperKey, presenceKey}

// RedisOptions configure the Redis presence store.
type RedisOptions struct {
	// Metrics are driven when set (PresenceCleanups).
	Metrics *metrics.RedisMetrics
	// ReapClaimTTL bounds how long one node's clean-up is reserved for the reaper that
	// claimed it; if that reaper dies, another takes over after it (default 30 s).
	ReapClaimTTL time.Duration
	// IndexPruneAge is how long an entry of a node's room index must be idle before a
	// heartbeat may prune it (default 1 min; longer than any Join takes).
	IndexPruneAge time.Duration
}

// Redis is the Store and Nodes over Redis. Each update of one room is one Lua script on
// the room's slot; updates of user and node keys (other slots) are separate, idempotent
// steps in an order that is safe to interrupt (see docs/redis.md).
type Redis struct {
	c    redis.UniversalClient
	opts RedisOptions
	m    *metrics.RedisMetrics
}

var (
	_ Store = (*Redis)(nil)
	_ Nodes = (*Redis)(nil)
)

// NewRedis returns a store over c (the caller keeps ownership of c).
func NewRedis(c redis.UniversalClient, opts RedisOptions) *Redis {
	if opts.ReapClaimTTL <= 0 {
		opts.ReapClaimTTL = 30 * time.Second
	}
	if opts.IndexPruneAge <= 0 {
		opts.IndexPruneAge = time.Minute
	}
	m := opts.Metrics
	if m == nil {
		m = metrics.NewRedisMetrics(prometheus.NewRegistry())
	}
	return &Redis{c: c, opts: opts, m: m}
}

func wrap(op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return nil
	}
	if redisconn.IsUnavailable(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("presence: %s: %w", op, err)
}

// joinScript records a member in a room. KEYS: members, nodes, presence. ARGV: userId,
// member JSON, nodeId, presence value, ttl ms. Returns the previous member JSON or false.
var joinScript = redis.NewScript(`
local prev = redis.call('HGET', KEYS[1], ARGV[1])
local prevNode = nil
if prev then prevNode = cjson.decode(prev).nodeId end
if prevNode ~= ARGV[3] then
  if prevNode then
    if redis.call('HINCRBY', KEYS[2], prevNode, -1) <= 0 then redis.call('HDEL', KEYS[2], prevNode) end
  end
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
return prev or false
`)

// leaveScript removes a member if its session matches. KEYS: members, nodes, presence.
// ARGV: userId, session. Returns the removed member's node id, or false.
var leaveScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
local m = cjson.decode(cur)
if m.session ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
if redis.call('HINCRBY', KEYS[2], m.nodeId, -1) <= 0 then redis.call('HDEL', KEYS[2], m.nodeId) end
return m.nodeId
`)

// touchScript refreshes a member's presence key if the member is still recorded.
// KEYS: members, presence. ARGV: userId, ttl ms. Returns 1 when refreshed.
var touchScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local m = cjson.decode(cur)
redis.call('SET', KEYS[2], m.nodeId .. '/' .. m.session, 'PX', ARGV[2])
return 1
`)

// userJoinScript points the user at its node and clears the disconnecting mark (slot of
// the user). KEYS: user node, disconnecting. ARGV: nodeId.
var userJoinScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`)

// userLeaveScript deletes the user's node pointer and mark only if they still describe
// the session that left. KEYS: user node, disconnecting. ARGV: nodeId, nodeId/session.
var userLeaveScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
`)

// reapRoomScript removes the given candidates from a room if they are still held by the
// dead node. KEYS: members, nodes, presence keys of the candidates. ARGV: nodeId, then
// the candidates' user ids. Returns the user ids it removed.
var reapRoomScript = redis.NewScript(`
local out = {}
for i = 2, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur and cjson.decode(cur).nodeId == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('DEL', KEYS[i + 1])
    table.insert(out, ARGV[i])
  end
end
local left = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(v).nodeId == ARGV[1] then left = left + 1 end
end
if left == 0 then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HSET', KEYS[2], ARGV[1], left) end
return out
`)

// userReapScript deletes a reaped user's node pointer and disconnecting mark if they
// belong to the dead node. KEYS: user node, disconnecting. ARGV: nodeId.
var userReapScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local d = redis.call('GET', KEYS[2])
if d and string.sub(d, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '/' then redis.call('DEL', KEYS[2]) end
return 1
`)

// pruneIndexScript removes a room from a node's index only if its score did not change
// since it was read (no Join started meanwhile). KEYS: node rooms. ARGV: room, score.
var pruneIndexScript = redis.NewScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) return 1 end
return 0
`)

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Join records m in roomID. Order: (1) the node's room index, so a crash after it leaves
// at worst an index entry with nothing behind it; (2) the room script, atomically;
// (3) the user's node pointer and the clearing of the disconnecting mark. The three go in
// one pipelined round trip (Redis runs them in that order; a node that dies while sending
// leaves a prefix of them, as it would have between separate calls; on a Redis Cluster
// the index is written first, on its own). The scripts go as
// EVAL, not EVALSHA: a script cache emptied by a Redis restart cannot make a pipeline half
// fail.
func (s *Redis) Join(ctx context.Context, roomID string, m Member, ttl time.Duration) (*Member, error) {
	if m.UserID == "" || m.NodeID == "" || m.Session == "" {
		return nil, errors.New("presence: Join needs UserID, NodeID and Session")
	}
	if m.JoinedAt == 0 {
		m.JoinedAt = time.Now().UnixMilli()
	}
	now := time.Now().UnixMilli()
	body, _ := json.Marshal(m)
	pipe := s.c.Pipeline()
	indexEntry := redis.Z{Score: float64(now), Member: roomID}
	var index *redis.IntCmd
	if _, cluster := s.c.(*redis.ClusterClient); cluster {
		// Across shards a pipeline keeps no order: the index goes first, on its own.
		if err := s.c.ZAdd(ctx, nodeRoomsKey(m.NodeID), indexEntry).Err(); err != nil {
			return nil, wrap("join: node index", err)
		}
	} else {
		index = pipe.ZAdd(ctx, nodeRoomsKey(m.NodeID), indexEntry)
	}
	room := joinScript.Eval(ctx, pipe, []string{membersKey(roomID), roomNodesKey(roomID), presenceKey(roomID, m.UserID)},
		m.UserID, body, m.NodeID, m.NodeID+"/"+m.Session, ms(ttl))
	user := userJoinScript.Eval(ctx, pipe, []string{userNodeKey(m.UserID), disconnectingKey(m.UserID)}, m.NodeID)
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	if index != nil && index.Err() != nil {
		return nil, wrap("join: node index", index.Err())
	}
	res, err := room.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("join", err)
	}
	var prev *Member
	if str, ok := res.(string); ok {
		if prev, err = decodeMember(m.UserID, str); err != nil {
			return nil, err
		}
	}
	if err := user.Err(); err != nil && !errors.Is(err, redis.Nil) {
		// The room is authoritative and already updated; a stale pointer or mark is
		// harmless (the mark's holder can only Leave the old session, which is gone).
		return prev, wrap("join: user keys", err)
	}
	return prev, nil
}

func decodeMember(user, raw string) (*Member, error) {
	var m Member
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("presence: corrupt member record of %s: %w", user, err)
	}
	m.UserID = user
	return &m, nil
}

// Leave removes userID from roomID if its recorded session is session. The room script
// decides atomically, so exactly one caller wins.
func (s *Redis) Leave(ctx context.Context, roomID, userID, session string) (bool, error) {
	res, err := leaveScript.Run(ctx, s.c, []string{membersKey(roomID), roomNodesKey(roomID), presenceKey(roomID, userID)}, userID, session).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, wrap("leave", err)
	}
	node, _ := res.(string)
	if err := userLeaveScript.Run(ctx, s.c, []string{userNodeKey(userID), disconnectingKey(userID)}, node, node+"/"+session).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return true, wrap("leave: user keys", err)
	}
	return true, nil
}

// Members lists everyone in roomID, on every node, ordered by join time.
func (s *Redis) Members(ctx context.Context, roomID string) ([]Member, error) {
	all, err := s.c.HGetAll(ctx, membersKey(roomID)).Result()
	if err != nil {
		return nil, wrap("members", err)
	}
	out := make([]Member, 0, len(all))
	for user, raw := range all {
		m, err := decodeMember(user, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	SortByJoin(out)
	return out, nil
}

// Get returns userID's record in roomID, or nil.
func (s *Redis) Get(ctx context.Context, roomID, userID string) (*Member, error) {
	raw, err := s.c.HGet(ctx, membersKey(roomID), userID).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("get", err)
	}
	return decodeMember(userID, raw)
}

// Touch refreshes the presence TTL of userID in roomID (re-creating the key if it had
// expired while the member is still recorded).
func (s *Redis) Touch(ctx context.Context, roomID, userID string, ttl time.Duration) error {
	return wrap("touch", touchScript.Run(ctx, s.c, []string{membersKey(roomID), presenceKey(roomID, userID)}, userID, ms(ttl)).Err())
}

// MarkDisconnecting sets disconnecting:{userId} = nodeId/session for window, if session
// is still the recorded one (a user who already came back is not marked).
func (s *Redis) MarkDisconnecting(ctx context.Context, roomID, userID, session string, window time.Duration) error {
	m, err := s.Get(ctx, roomID, userID)
	if err != nil || m == nil || m.Session != session {
		return err
	}
	return wrap("mark disconnecting", s.c.Set(ctx, disconnectingKey(userID), m.NodeID+"/"+session, window).Err())
}

// Heartbeat registers nodeID (registry first, so a crash in between leaves a registered
// node without a liveness key, which the reaper handles) and sets node:{nodeId} for ttl.
// It also prunes the node's room index of rooms where the node has had no members for a
// while.
func (s *Redis) Heartbeat(ctx context.Context, nodeID string, state NodeState, ttl time.Duration) error {
	if err := s.c.SAdd(ctx, NodesRegistryKey, nodeID).Err(); err != nil {
		return wrap("heartbeat: registry", err)
	}
	body, _ := json.Marshal(contract.NodeRecord{NodeID: nodeID, State: state, UpdatedAt: time.Now().UnixMilli()})
	if err := s.c.Set(ctx, nodeKey(nodeID), body, ttl).Err(); err != nil {
		return wrap("heartbeat", err)
	}
	return s.pruneIndex(ctx, nodeID)
}

func (s *Redis) pruneIndex(ctx context.Context, nodeID string) error {
	old := time.Now().Add(-s.opts.IndexPruneAge).UnixMilli()
	entries, err := s.c.ZRangeByScoreWithScores(ctx, nodeRoomsKey(nodeID), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(old, 10), Count: 100}).Result()
	if err != nil {
		return wrap("heartbeat: prune index", err)
	}
	for _, e := range entries {
		room := e.Member.(string)
		n, err := s.c.HGet(ctx, roomNodesKey(room), nodeID).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			return wrap("heartbeat: prune index", err)
		}
		if n > 0 {
			continue
		}
		if err := pruneIndexScript.Run(ctx, s.c, []string{nodeRoomsKey(nodeID)}, room, e.Score).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return wrap("heartbeat: prune index", err)
		}
	}
	return nil
}

// Remove deletes nodeID's liveness key (clean exit). The node stays registered, so the
// next ReapDead on any node cleans whatever members it left behind and unregisters it.
func (s *Redis) Remove(ctx context.Context, nodeID string) error {
	return wrap("remove node", s.c.Del(ctx, nodeKey(nodeID)).Err())
}

// Node returns nodeID's liveness record, or nil when it has expired.
func (s *Redis) Node(ctx context.Context, nodeID string) (*contract.NodeRecord, error) {
	raw, err := s.c.Get(ctx, nodeKey(nodeID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("node", err)
	}
	var r contract.NodeRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, fmt.Errorf("presence: corrupt node record %s: %w", nodeID, err)
	}
	return &r, nil
}

// ReapDead cleans up after every registered node whose liveness key has expired. Each dead
// node is claimed with SET NX (node:{id}:reaper) so one reaper does the work; each member
// is removed by an atomic room script that checks it is still held by the dead node, so
// even a reaper that takes over from a crashed one returns every member at most once
// cluster-wide.
func (s *Redis) ReapDead(ctx context.Context) ([]RoomUser, error) {
	nodes, err := s.c.SMembers(ctx, NodesRegistryKey).Result()
	if err != nil {
		return nil, wrap("reap: registry", err)
	}
	var out []RoomUser
	for _, n := range nodes {
		alive, err := s.c.Exists(ctx, nodeKey(n)).Result()
		if err != nil {
			return out, wrap("reap: liveness", err)
		}
		if alive == 1 {
			continue
		}
		token := randomToken()
		ok, err := s.c.SetNX(ctx, nodeReaperKey(n), token, s.opts.ReapClaimTTL).Result()
		if err != nil {
			return out, wrap("reap: claim", err)
		}
		if !ok {
			continue // another node is on it
		}
		removed, err := s.reapNode(ctx, n)
		out = append(out, removed...)
		if err != nil {
			return out, err
		}
	}
	if len(out) > 0 {
		s.m.PresenceCleanups.WithLabelValues("dead_node").Add(float64(len(out)))
	}
	return out, nil
}

func (s *Redis) reapNode(ctx context.Context, n string) ([]RoomUser, error) {
	rooms, err := s.c.ZRange(ctx, nodeRoomsKey(n), 0, -1).Result()
	if err != nil {
		return nil, wrap("reap: node rooms", err)
	}
	var out []RoomUser
	for _, room := range rooms {
		all, err := s.c.HGetAll(ctx, membersKey(room)).Result()
		if err != nil {
			return out, wrap("reap: members", err)
		}
		keys := []string{membersKey(room), roomNodesKey(room)}
		args := []any{n}
		for user, raw := range all {
			if m, err := decodeMember(user, raw); err == nil && m.NodeID == n {
				keys = append(keys, presenceKey(room, user))
				args = append(args, user)
			}
		}
		res, err := reapRoomScript.Run(ctx, s.c, keys, args...).StringSlice()
		if err != nil && !errors.Is(err, redis.Nil) {
			return out, wrap("reap: room", err)
		}
		for _, user := range res {
			out = append(out, RoomUser{RoomID: room, UserID: user})
			// Other slot: best effort, compare-and-delete, idempotent.
			if err := userReapScript.Run(ctx, s.c, []string{userNodeKey(user), disconnectingKey(user)}, n).Err(); err != nil && !errors.Is(err, redis.Nil) {
				return out, wrap("reap: user keys", err)
			}
		}
		if err := s.c.ZRem(ctx, nodeRoomsKey(n), room).Err(); err != nil {
			return out, wrap("reap: node rooms", err)
		}
	}
	// Unregister only if the node did not come back meanwhile (same id restarted).
	if alive, err := s.c.Exists(ctx, nodeKey(n)).Result(); err == nil && alive == 0 {
		if err := s.c.SRem(ctx, NodesRegistryKey, n).Err(); err != nil {
			return out, wrap("reap: unregister", err)
		}
	}
	return out, nil
}

func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
