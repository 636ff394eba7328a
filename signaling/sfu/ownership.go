package sfu

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Ownership of transports and consumers (docs/sfu.md §Ownership): which user created
// which id in which room. Only their creator may use them; another user's (or an unknown)
// id gets `forbidden`. The record is per (room, user) and shared by the nodes, so a user
// whose session moves to another node (a drain, a reconnect) keeps using its transports
// and consumers there. It is deleted when the user finally leaves the room (the hub's
// exactly-once OnMemberGone: leave_room, the end of the reconnection window, presence
// timeout); a TTL bounds a record whose whole cluster died, and a cap bounds its size.

// owner is who a transport or consumer was created for.
type owner struct{ room, user string }

// The kinds of owned ids (the field prefix in the record).
const (
	kindTransport = "t"
	kindConsumer  = "c"
	kindProducer  = "p" // counted against the cap only; the producer registry says who owns it
)

// MaxOwnedPerUser caps the transports, consumers and producers one user may hold in one
// room; past it sfu_create_transport, sfu_consume and sfu_produce answer rate_limited
// (a closed producer frees its place).
const MaxOwnedPerUser = 1024

// ownedTTL bounds a record left behind by a cluster that died as a whole; every new id
// pushes it forward.
const ownedTTL = 24 * time.Hour

// errTooMany: the user already holds MaxOwnedPerUser ids in the room.
var errTooMany = errors.New("too many transports, consumers and producers")

type ownership interface {
	// add records id as w's; errTooMany past the cap.
	add(ctx context.Context, w owner, kind, id string) error
	owns(ctx context.Context, w owner, kind, id string) (bool, error)
	// drop removes one id (a closed producer).
	drop(ctx context.Context, w owner, kind, id string) error
	// forget drops everything of w (the Media Service closed it).
	forget(ctx context.Context, w owner) error
}

// OwnedKey is the Redis hash of the ids one user created in one room:
// "t:{transportId}" / "c:{consumerId}" / "p:{producerId}" → "1".
func OwnedKey(room, user string) string { return "room:{" + room + "}:sfu-owned:" + user }

type redisOwnership struct{ rdb redis.UniversalClient }

var addOwnedScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], '1')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`)

func (r redisOwnership) add(ctx context.Context, w owner, kind, id string) error {
	n, err := addOwnedScript.Run(ctx, r.rdb, []string{OwnedKey(w.room, w.user)},
		kind+":"+id, strconv.Itoa(MaxOwnedPerUser), strconv.FormatInt(ownedTTL.Milliseconds(), 10)).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return errTooMany
	}
	return nil
}

func (r redisOwnership) owns(ctx context.Context, w owner, kind, id string) (bool, error) {
	return r.rdb.HExists(ctx, OwnedKey(w.room, w.user), kind+":"+id).Result()
}

func (r redisOwnership) drop(ctx context.Context, w owner, kind, id string) error {
	return r.rdb.HDel(ctx, OwnedKey(w.room, w.user), kind+":"+id).Err()
}

func (r redisOwnership) forget(ctx context.Context, w owner) error {
	return r.rdb.Del(ctx, OwnedKey(w.room, w.user)).Err()
}

// memoryOwnership is the single-node equivalent.
type memoryOwnership struct {
	mu    sync.Mutex
	owned map[owner]map[string]struct{}
}

func newMemoryOwnership() *memoryOwnership {
	return &memoryOwnership{owned: map[owner]map[string]struct{}{}}
}

func (m *memoryOwnership) add(_ context.Context, w owner, kind, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.owned[w]
	if set == nil {
		set = map[string]struct{}{}
		m.owned[w] = set
	}
	k := kind + ":" + id
	if _, ok := set[k]; !ok && len(set) >= MaxOwnedPerUser {
		return errTooMany
	}
	set[k] = struct{}{}
	return nil
}

func (m *memoryOwnership) owns(_ context.Context, w owner, kind, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.owned[w][kind+":"+id]
	return ok, nil
}

func (m *memoryOwnership) drop(_ context.Context, w owner, kind, id string) error {
	m.mu.Lock()
	delete(m.owned[w], kind+":"+id)
	m.mu.Unlock()
	return nil
}

func (m *memoryOwnership) forget(_ context.Context, w owner) error {
	m.mu.Lock()
	delete(m.owned, w)
	m.mu.Unlock()
	return nil
}
