package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/contract"
)

// producer is one entry of a room's producer registry.
type producer struct {
	ID     string `json:"-"`
	UserID string `json:"userId"`
	Kind   string `json:"kind"`
	Paused bool   `json:"paused,omitempty"`
}

// producerRegistry knows every producer of a room cluster-wide: the final leave of a user
// may be handled by another node than the one that created its producers (after a crash,
// or a reconnect through another node), and that node announces sfu_producer_closed.
type producerRegistry interface {
	add(ctx context.Context, room string, p producer) error
	list(ctx context.Context, room string) ([]producer, error)
	// takeUser removes and returns the producers of user in room.
	takeUser(ctx context.Context, room, user string) ([]producer, error)
	// get returns one producer; ok is false when the room has no such producer.
	get(ctx context.Context, room, id string) (p producer, ok bool, err error)
	// remove deletes one producer; it reports whether this call removed it.
	remove(ctx context.Context, room, id string) (bool, error)
	// setPaused records a producer's paused state, unless it was removed meanwhile.
	setPaused(ctx context.Context, room string, p producer, paused bool) error
}

// ProducersKey is the Redis hash of a room's producers: producerId → {"userId","kind"}.
func ProducersKey(room string) string { return "room:{" + room + "}:producers" }

// producersTTL bounds a registry left behind by a cluster that died as a whole; every
// new producer pushes it forward.
const producersTTL = 24 * time.Hour

type redisProducers struct{ rdb redis.UniversalClient }

func (r redisProducers) add(ctx context.Context, room string, p producer) error {
	b, _ := json.Marshal(p)
	key := ProducersKey(room)
	pipe := r.rdb.TxPipeline()
	pipe.HSet(ctx, key, p.ID, b)
	pipe.Expire(ctx, key, producersTTL)
	_, err := pipe.Exec(ctx)
	return err
}

func (r redisProducers) list(ctx context.Context, room string) ([]producer, error) {
	all, err := r.rdb.HGetAll(ctx, ProducersKey(room)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]producer, 0, len(all))
	for id, v := range all {
		var p producer
		if json.Unmarshal([]byte(v), &p) != nil {
			continue
		}
		p.ID = id
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (r redisProducers) takeUser(ctx context.Context, room, user string) ([]producer, error) {
	all, err := r.list(ctx, room)
	if err != nil {
		return nil, err
	}
	var mine []string
	var out []producer
	for _, p := range all {
		if p.UserID == user {
			mine = append(mine, p.ID)
			out = append(out, p)
		}
	}
	if len(mine) == 0 {
		return nil, nil
	}
	return out, r.rdb.HDel(ctx, ProducersKey(room), mine...).Err()
}

func (r redisProducers) get(ctx context.Context, room, id string) (producer, bool, error) {
	v, err := r.rdb.HGet(ctx, ProducersKey(room), id).Result()
	if errors.Is(err, redis.Nil) {
		return producer{}, false, nil
	}
	if err != nil {
		return producer{}, false, err
	}
	var p producer
	if json.Unmarshal([]byte(v), &p) != nil {
		return producer{}, false, nil
	}
	p.ID = id
	return p, true, nil
}

func (r redisProducers) remove(ctx context.Context, room, id string) (bool, error) {
	n, err := r.rdb.HDel(ctx, ProducersKey(room), id).Result()
	return n > 0, err
}

// setPausedScript rewrites an entry only while it exists: a pause racing a close must
// not bring the closed producer back.
var setPausedScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 0`)

func (r redisProducers) setPaused(ctx context.Context, room string, p producer, paused bool) error {
	p.Paused = paused
	b, _ := json.Marshal(p)
	return setPausedScript.Run(ctx, r.rdb, []string{ProducersKey(room)}, p.ID, b).Err()
}

type memoryProducers struct {
	mu    sync.Mutex
	rooms map[string]map[string]producer
}

func newMemoryProducers() *memoryProducers {
	return &memoryProducers{rooms: map[string]map[string]producer{}}
}

func (m *memoryProducers) add(_ context.Context, room string, p producer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rooms[room] == nil {
		m.rooms[room] = map[string]producer{}
	}
	m.rooms[room][p.ID] = p
	return nil
}

func (m *memoryProducers) list(_ context.Context, room string) ([]producer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]producer, 0, len(m.rooms[room]))
	for _, p := range m.rooms[room] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memoryProducers) takeUser(_ context.Context, room, user string) ([]producer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []producer
	for id, p := range m.rooms[room] {
		if p.UserID == user {
			out = append(out, p)
			delete(m.rooms[room], id)
		}
	}
	if len(m.rooms[room]) == 0 {
		delete(m.rooms, room)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memoryProducers) get(_ context.Context, room, id string) (producer, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.rooms[room][id]
	return p, ok, nil
}

func (m *memoryProducers) remove(_ context.Context, room, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.rooms[room][id]
	delete(m.rooms[room], id)
	if len(m.rooms[room]) == 0 {
		delete(m.rooms, room)
	}
	return ok, nil
}

func (m *memoryProducers) setPaused(_ context.Context, room string, p producer, paused bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.rooms[room][p.ID]; ok {
		cur.Paused = paused
		m.rooms[room][p.ID] = cur
	}
	return nil
}

// fallbackFlags mark the rooms that run in P2P because the Media Service is down. The
// flag is shared by the nodes so that one of them, and only one, announces each change
// of a room's mode.
type fallbackFlags interface {
	// set raises the flag; it reports true when this call raised it.
	set(ctx context.Context, room string) (bool, error)
	isSet(ctx context.Context, room string) (bool, error)
	refresh(ctx context.Context, room string) error
	// clear lowers the flag; it reports true when this call lowered it.
	clear(ctx context.Context, room string) (bool, error)
}

// FallbackKey marks a room switched to P2P for the duration of a media outage.
func FallbackKey(room string) string { return "room:{" + room + "}:fallback" }

// fallbackTTL bounds a flag whose nodes all died; nodes with an open breaker refresh it.
const fallbackTTL = time.Minute

type redisFlags struct{ rdb redis.UniversalClient }

func (r redisFlags) set(ctx context.Context, room string) (bool, error) {
	return r.rdb.SetNX(ctx, FallbackKey(room), "p2p", fallbackTTL).Result()
}

func (r redisFlags) isSet(ctx context.Context, room string) (bool, error) {
	n, err := r.rdb.Exists(ctx, FallbackKey(room)).Result()
	return n > 0, err
}

func (r redisFlags) refresh(ctx context.Context, room string) error {
	return r.rdb.Expire(ctx, FallbackKey(room), fallbackTTL).Err()
}

func (r redisFlags) clear(ctx context.Context, room string) (bool, error) {
	n, err := r.rdb.Del(ctx, FallbackKey(room)).Result()
	return n > 0, err
}

type memoryFlags struct {
	mu    sync.Mutex
	rooms map[string]bool
}

func (m *memoryFlags) set(_ context.Context, room string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rooms[room] {
		return false, nil
	}
	m.rooms[room] = true
	return true, nil
}

func (m *memoryFlags) isSet(_ context.Context, room string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rooms[room], nil
}

func (m *memoryFlags) refresh(context.Context, string) error { return nil }

func (m *memoryFlags) clear(_ context.Context, room string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	was := m.rooms[room]
	delete(m.rooms, room)
	return was, nil
}

// readVerdict reads the operator's stored verdict; ok is false when there is none.
func readVerdict(ctx context.Context, rdb redis.UniversalClient) (contract.MediaVerdict, bool, error) {
	raw, err := rdb.Get(ctx, contract.MediaHealthKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return contract.MediaVerdict{}, false, nil
	}
	if err != nil {
		return contract.MediaVerdict{}, false, err
	}
	v, err := contract.ParseMediaVerdict(raw)
	if err != nil {
		return contract.MediaVerdict{}, false, fmt.Errorf("%s: %w", contract.MediaHealthKey, err)
	}
	return v, true, nil
}
