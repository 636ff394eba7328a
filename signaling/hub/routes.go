package hub

import (
	"sync"
	"time"
)

// routeCache remembers for a short while which node holds a relay target, so that the
// bursts of ICE candidates of one negotiation cost one presence lookup instead of one
// each. Entries are dropped when the room hears the user leave or join again, when a
// relay to them bounces (they dropped), and after routeTTL at the latest, so a user who
// reconnected elsewhere is found again within that time.
type routeCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[roomUser]route
}

type route struct {
	node    string
	expires time.Time
}

const maxRoutes = 100_000

func (c *routeCache) get(room, user string, now time.Time) (string, bool) {
	if c.ttl <= 0 {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[roomUser{room, user}]
	if !ok || now.After(r.expires) {
		return "", false
	}
	return r.node, true
}

func (c *routeCache) put(room, user, node string, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxRoutes {
		c.m = map[roomUser]route{} // crude bound: start over rather than grow without limit
	}
	c.m[roomUser{room, user}] = route{node: node, expires: now.Add(c.ttl)}
}

func (c *routeCache) forget(room, user string) {
	c.mu.Lock()
	delete(c.m, roomUser{room, user})
	c.mu.Unlock()
}
