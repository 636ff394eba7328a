package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

// Redis is the Log of a cluster: per pid a hash csr:{pid} (user, room, session, node,
// complete, taken, n = frames ever logged) and a stream csr:{pid}:log of frames (fields o = offset, f = frame),
// capped at Max entries, both expiring with the recovery window. The hash tag keeps the two
// keys on one Redis Cluster slot, so every step is one atomic script.
type Redis struct {
	c   redis.UniversalClient
	max int
}

var _ Log = (*Redis)(nil)

// NewRedis returns a log on c keeping at most max frames per session (DefaultMax when
// max <= 0).
func NewRedis(c redis.UniversalClient, max int) *Redis {
	if max <= 0 {
		max = DefaultMax
	}
	return &Redis{c: c, max: max}
}

func recKey(pid string) string { return "csr:{" + pid + "}" }
func logKey(pid string) string { return "csr:{" + pid + "}:log" }

// parkScript: KEYS rec, log. ARGV ttl ms, max, user, room, session, node, complete, then
// offset/frame pairs (oldest first; the caller has already cut them to max).
var parkScript = redis.NewScript(`
redis.call('DEL', KEYS[1], KEYS[2])
for i = 8, #ARGV, 2 do
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], '*', 'o', ARGV[i], 'f', ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'user', ARGV[3], 'room', ARGV[4], 'session', ARGV[5], 'node', ARGV[6], 'complete', ARGV[7], 'n', (#ARGV - 7) / 2)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if #ARGV >= 8 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1
`)

// appendScript: KEYS rec, log. ARGV node, max, then offset/frame pairs. Returns {1, node}
// when appended, {0, owner} when node no longer owns the record ("" when it is gone).
var appendScript = redis.NewScript(`
local owner = redis.call('HGET', KEYS[1], 'node')
if not owner then return {0, ''} end
if owner ~= ARGV[1] or redis.call('HGET', KEYS[1], 'taken') == '1' then return {0, owner} end
local max = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[2], 'MAXLEN', max, '*', 'o', ARGV[i], 'f', ARGV[i + 1])
end
if redis.call('HINCRBY', KEYS[1], 'n', (#ARGV - 2) / 2) > max then redis.call('HSET', KEYS[1], 'complete', '0') end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return {1, owner}
`)

// takeScript: KEYS rec, log. ARGV user, node. Returns false, or {record fields, entries}.
var takeScript = redis.NewScript(`
local r = redis.call('HGETALL', KEYS[1])
if #r == 0 then return false end
local h = {}
for i = 1, #r, 2 do h[r[i]] = r[i + 1] end
if h['taken'] == '1' or h['user'] ~= ARGV[1] then return false end
if ARGV[2] == '' then return {r, {}} end
local entries = redis.call('XRANGE', KEYS[2], '-', '+')
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'taken', '1', 'node', ARGV[2])
return {r, entries}
`)

// discardScript: KEYS rec, log. ARGV node.
var discardScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) return 1 end
return 0
`)

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if redisconn.IsUnavailable(err) {
		return fmt.Errorf("recovery: %s: redis unavailable: %w", op, err)
	}
	return fmt.Errorf("recovery: %s: %w", op, err)
}

func (r *Redis) Park(ctx context.Context, rec Record, frames []Frame, ttl time.Duration) error {
	if len(frames) > r.max {
		frames = frames[len(frames)-r.max:]
		rec.Complete = false
	}
	args := make([]any, 0, 7+2*len(frames))
	args = append(args, max(ttl.Milliseconds(), 1), r.max, rec.UserID, rec.Room, rec.Session, rec.Node, flag(rec.Complete))
	for _, f := range frames {
		args = append(args, f.Offset, f.Data)
	}
	return wrap("park", parkScript.Run(ctx, r.c, []string{recKey(rec.PID), logKey(rec.PID)}, args...).Err())
}

func (r *Redis) Append(ctx context.Context, pid, node string, frames []Frame) (string, bool, error) {
	args := make([]any, 0, 2+2*len(frames))
	args = append(args, node, r.max)
	for _, f := range frames {
		args = append(args, f.Offset, f.Data)
	}
	res, err := appendScript.Run(ctx, r.c, []string{recKey(pid), logKey(pid)}, args...).Slice()
	if err != nil {
		return "", false, wrap("append", err)
	}
	if len(res) != 2 {
		return "", false, fmt.Errorf("recovery: append: unexpected reply %v", res)
	}
	ok, _ := res[0].(int64)
	owner, _ := res[1].(string)
	return owner, ok == 1, nil
}

func (r *Redis) Peek(ctx context.Context, pid, user string) (Record, error) {
	rec, _, err := r.take(ctx, pid, user, "")
	return rec, err
}

func (r *Redis) Take(ctx context.Context, pid, user, node string) (Record, []Frame, error) {
	if node == "" {
		return Record{}, nil, errors.New("recovery: take needs the taking node")
	}
	return r.take(ctx, pid, user, node)
}

// take runs takeScript; node "" only reads (Peek).
func (r *Redis) take(ctx context.Context, pid, user, node string) (Record, []Frame, error) {
	res, err := takeScript.Run(ctx, r.c, []string{recKey(pid), logKey(pid)}, user, node).Slice()
	if errors.Is(err, redis.Nil) {
		return Record{}, nil, ErrNotParked
	}
	if err != nil {
		return Record{}, nil, wrap("take", err)
	}
	if len(res) != 2 {
		return Record{}, nil, fmt.Errorf("recovery: take: unexpected reply")
	}
	fields, _ := res[0].([]any)
	h := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		h[k] = v
	}
	rec := Record{PID: pid, UserID: h["user"], Room: h["room"], Session: h["session"], Node: h["node"], Complete: h["complete"] == "1"}
	entries, _ := res[1].([]any)
	frames := make([]Frame, 0, len(entries))
	for _, e := range entries {
		pair, _ := e.([]any)
		if len(pair) != 2 {
			continue
		}
		kv, _ := pair[1].([]any)
		var f Frame
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			v, _ := kv[i+1].(string)
			switch k {
			case "o":
				f.Offset = v
			case "f":
				f.Data = []byte(v)
			}
		}
		frames = append(frames, f)
	}
	return rec, frames, nil
}

func (r *Redis) Discard(ctx context.Context, pid, node string) error {
	return wrap("discard", discardScript.Run(ctx, r.c, []string{recKey(pid), logKey(pid)}, node).Err())
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
