package rooms

import (
	"sync"
	"time"
)

// DefaultNotFoundTTL is how long a Room Service 404 is remembered on a node: joins of a
// made-up room id in a loop cost one Room Service call per id per this period.
const DefaultNotFoundTTL = 5 * time.Second

// maxNotFound bounds the remembered 404s (random room ids must not grow the node).
const maxNotFound = 10_000

// notFoundCache remembers rooms the Room Service answered 404 for, briefly, in this
// process (a room created meanwhile is found once the entry expires).
type notFoundCache struct {
	ttl time.Duration

	mu      sync.Mutex
	expires map[string]time.Time
}

func (n *notFoundCache) has(room string, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	exp, ok := n.expires[room]
	if ok && now.After(exp) {
		delete(n.expires, room)
		return false
	}
	return ok
}

func (n *notFoundCache) add(room string, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.expires == nil {
		n.expires = map[string]time.Time{}
	}
	if len(n.expires) >= maxNotFound {
		for r, exp := range n.expires {
			if now.After(exp) {
				delete(n.expires, r)
			}
		}
		if len(n.expires) >= maxNotFound {
			clear(n.expires) // all fresh: a flood of made-up ids; start over
		}
	}
	n.expires[room] = now.Add(n.ttl)
}

func (n *notFoundCache) forget(room string) {
	n.mu.Lock()
	delete(n.expires, room)
	n.mu.Unlock()
}
