// Connection caps: node-wide and per client IP before the upgrade, per user at CONNECT.

package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
)

// connCaps counts this node's connections. Zero limits are unlimited.
type connCaps struct {
	maxTotal, maxPerIP, maxPerUser int
	trusted                        []netip.Prefix

	mu     sync.Mutex
	total  int
	byIP   map[netip.Addr]int
	byUser map[string]int
}

func newConnCaps(o Options) *connCaps {
	return &connCaps{maxTotal: o.MaxConnections, maxPerIP: o.MaxConnectionsPerIP, maxPerUser: o.MaxConnectionsPerUser,
		trusted: o.TrustedProxies, byIP: map[netip.Addr]int{}, byUser: map[string]int{}}
}

// admit reserves a connection slot for a client IP; refused names the cap that is full
// ("" when admitted). Every admitted connection is released exactly once.
func (c *connCaps) admit(ip netip.Addr) (refused string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxTotal > 0 && c.total >= c.maxTotal {
		return "node_full"
	}
	if c.maxPerIP > 0 && c.byIP[ip] >= c.maxPerIP {
		return "ip_limit"
	}
	c.total++
	c.byIP[ip]++
	return ""
}

func (c *connCaps) release(ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.byIP[ip]--; c.byIP[ip] <= 0 {
		delete(c.byIP, ip)
	}
}

// admitUser reserves one of user's authenticated sockets; false when the user is at the cap.
func (c *connCaps) admitUser(user string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxPerUser > 0 && c.byUser[user] >= c.maxPerUser {
		return false
	}
	c.byUser[user]++
	return true
}

func (c *connCaps) releaseUser(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser[user]--; c.byUser[user] <= 0 {
		delete(c.byUser, user)
	}
}

// clientIP is the address a connection counts against: the TCP peer, or, when the peer
// is a trusted proxy, the nearest address in X-Forwarded-For that is not one (entries
// further left are whatever the client claimed).
func (c *connCaps) clientIP(r *http.Request) netip.Addr {
	peer := addrOf(r.RemoteAddr)
	if !c.isTrusted(peer) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	ip := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = a.Unmap()
		if !c.isTrusted(ip) {
			break
		}
	}
	return ip
}

func (c *connCaps) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrOf parses a "host:port" peer address; an unparsable one counts as the zero address.
func addrOf(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
