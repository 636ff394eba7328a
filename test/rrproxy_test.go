package test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// rrProxy is a round-robin HTTP load balancer without affinity, at its worst for a
// session: every request of a session (each poll, each POST, each WebSocket upgrade) goes
// to the live backend after the one its previous request went to (after the owner for its
// first), so no two in a row land on one node; handshakes go round the backends in turn.
// A WebSocket upgrade is never sent to the session's owner, so that it is always bridged.
// (A single counter for all requests let concurrent sessions' requests interleave so that
// one session's few requests could all land on one node.)
type rrProxy struct {
	srv      *httptest.Server
	backends []rrBackend

	mu     sync.Mutex
	next   int                        // the backend of the next handshake
	last   map[string]int             // sid → the backend of its latest request
	served map[string]map[string]bool // sid → backend node ids that served a request of it
}

type rrBackend struct {
	nodeID string
	url    *url.URL
	dead   *atomic.Bool
}

func startRRProxy(t *testing.T, nodeIDs, urls []string) *rrProxy {
	t.Helper()
	p := &rrProxy{last: map[string]int{}, served: map[string]map[string]bool{}}
	for i, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		p.backends = append(p.backends, rrBackend{nodeID: nodeIDs[i], url: pu, dead: new(atomic.Bool)})
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			b := r.In.Context().Value(backendKey{}).(rrBackend)
			r.SetURL(b.url)
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := r.URL.Query().Get("sid")
		b, ok := p.pick(sid, r.URL.Query().Get("transport") == "websocket")
		if !ok {
			http.Error(w, "no backend", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, b)))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// kill takes a backend out of rotation (its endpoint is gone, as after a pod's crash).
func (p *rrProxy) kill(nodeID string) {
	for _, b := range p.backends {
		if b.nodeID == nodeID {
			b.dead.Store(true)
		}
	}
}

func (p *rrProxy) pick(sid string, upgrade bool) (rrBackend, bool) {
	owner := ""
	if i := strings.LastIndexByte(sid, '.'); i >= 0 {
		o, _ := base64.RawURLEncoding.DecodeString(sid[i+1:])
		owner = string(o)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.next
	if sid != "" {
		prev, seen := p.last[sid]
		if !seen {
			prev = slices.IndexFunc(p.backends, func(b rrBackend) bool { return b.nodeID == owner })
		}
		start = prev + 1
	}
	for k := range len(p.backends) {
		i := (start + k) % len(p.backends)
		b := p.backends[i]
		if b.dead.Load() || (upgrade && b.nodeID == owner) {
			continue
		}
		if sid != "" {
			p.last[sid] = i
			if p.served[sid] == nil {
				p.served[sid] = map[string]bool{}
			}
			p.served[sid][b.nodeID] = true
		} else {
			p.next = i + 1
		}
		return b, true
	}
	return rrBackend{}, false
}

// spread reports how many sessions had requests served by more than one node.
func (p *rrProxy) spread() (sessions, multi int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, nodes := range p.served {
		sessions++
		if len(nodes) > 1 {
			multi++
		}
	}
	return
}

type backendKey struct{}
