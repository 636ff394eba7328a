package test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// rrProxy is a round-robin HTTP load balancer without affinity: every request (a
// handshake, each poll, each POST, each WebSocket upgrade) goes to the next live backend,
// whatever session it belongs to. A WebSocket upgrade of an existing session is sent to a
// node that does not own it (the worst case), so that the upgrade is always bridged.
type rrProxy struct {
	srv      *httptest.Server
	backends []rrBackend
	next     atomic.Uint64

	mu     sync.Mutex
	served map[string]map[string]bool // sid → backend node ids that served a request of it
}

type rrBackend struct {
	nodeID string
	url    *url.URL
	dead   *atomic.Bool
}

func startRRProxy(t *testing.T, nodeIDs, urls []string) *rrProxy {
	t.Helper()
	p := &rrProxy{served: map[string]map[string]bool{}}
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
		if sid != "" {
			p.mu.Lock()
			if p.served[sid] == nil {
				p.served[sid] = map[string]bool{}
			}
			p.served[sid][b.nodeID] = true
			p.mu.Unlock()
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
	for range 2 * len(p.backends) {
		b := p.backends[int(p.next.Add(1)-1)%len(p.backends)]
		if b.dead.Load() || (upgrade && b.nodeID == owner) {
			continue
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
