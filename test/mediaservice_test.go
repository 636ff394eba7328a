package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The test Media Service: a real HTTP server implementing the contract, failures included.

// mediaCall is one request the fake Media Service received.
type mediaCall struct {
	Method, Path string
	Body         map[string]json.RawMessage
}

func (c mediaCall) String() string { return c.Method + " " + c.Path }

func (c mediaCall) str(field string) string {
	var s string
	_ = json.Unmarshal(c.Body[field], &s)
	return s
}

// fakeMedia implements the Media Service contract (docs/backends.md §Media Service) and
// records every call. It remembers its transports and producers: an unknown or closed
// one gets the contract's 404. With down set it answers 503 to everything, /health
// included.
type fakeMedia struct {
	*httptest.Server
	mu         sync.Mutex
	calls      []mediaCall
	n          int
	transports map[string]bool
	producers  map[string]string // id → "live" or "paused"
	down       atomic.Bool
}

const fakeCaps = `{"codecs":[{"kind":"video","mimeType":"video/VP8","clockRate":90000}]}`

func newFakeMedia(t *testing.T) *fakeMedia {
	f := &fakeMedia{transports: map[string]bool{}, producers: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMedia) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	c := mediaCall{Method: r.Method, Path: r.URL.Path}
	_ = json.Unmarshal(raw, &c.Body)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.n++
	n := f.n
	f.mu.Unlock()
	if f.down.Load() {
		http.Error(w, "media workers gone", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/health":
		fmt.Fprint(w, `{"status":"ok"}`)
	case r.Method == http.MethodGet && len(p) == 3 && p[2] == "rtp-capabilities":
		fmt.Fprintf(w, `{"rtpCapabilities":%s}`, fakeCaps)
	case r.Method == http.MethodPost && len(p) == 3 && p[2] == "transports":
		id := fmt.Sprintf("t%d-%s", n, c.str("peerId"))
		f.remember(func() { f.transports[id] = true })
		fmt.Fprintf(w, `{"id":%q,"iceParameters":{"usernameFragment":"uf%d","password":"pw"},"iceCandidates":[{"ip":"10.0.0.1","port":40000,"protocol":"udp"}],"dtlsParameters":{"role":"auto","fingerprints":[]}}`, id, n)
	case r.Method == http.MethodPost && len(p) == 5 && p[2] == "transports" && p[4] == "restart-ice":
		if !f.known(func() bool { return f.transports[p[3]] }) {
			notFound(w, "transport_not_found", "no such transport")
			return
		}
		fmt.Fprintf(w, `{"iceParameters":{"usernameFragment":"restarted%d","password":"pw%d","iceLite":true}}`, n, n)
	case r.Method == http.MethodDelete && len(p) == 4 && p[2] == "producers":
		if !f.known(func() bool { _, ok := f.producers[p[3]]; delete(f.producers, p[3]); return ok }) {
			notFound(w, "producer_not_found", "no such producer")
			return
		}
		fmt.Fprint(w, `{}`)
	case r.Method == http.MethodPost && len(p) == 5 && p[2] == "producers" && (p[4] == "pause" || p[4] == "resume"):
		state := map[string]string{"pause": "paused", "resume": "live"}[p[4]]
		if !f.known(func() bool {
			_, ok := f.producers[p[3]]
			if ok {
				f.producers[p[3]] = state
			}
			return ok
		}) {
			notFound(w, "producer_not_found", "no such producer")
			return
		}
		fmt.Fprint(w, `{}`)
	case r.Method == http.MethodPost && len(p) == 5 && p[4] == "connect":
		fmt.Fprint(w, `{}`)
	case r.Method == http.MethodPost && len(p) == 5 && p[4] == "producers":
		if strings.Contains(string(c.Body["rtpParameters"]), "broken") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"code":"invalid_rtp_parameters","message":"rtpParameters.codecs must not be empty"}}`)
			return
		}
		id := fmt.Sprintf("p%d", n)
		f.remember(func() { f.producers[id] = "live" })
		fmt.Fprintf(w, `{"id":%q}`, id)
	case r.Method == http.MethodPost && len(p) == 5 && p[4] == "consumers":
		fmt.Fprintf(w, `{"id":"c%d","producerId":%q,"kind":"video","rtpParameters":{"codecs":[{"mimeType":"video/VP8"}],"mid":"0"}}`, n, c.str("producerId"))
	case r.Method == http.MethodPost && len(p) == 5 && p[2] == "consumers" && p[4] == "resume":
		fmt.Fprint(w, `{}`)
	case r.Method == http.MethodDelete && len(p) == 4 && p[2] == "peers":
		fmt.Fprint(w, `{}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":"not_found","message":"no such route"}}`)
	}
}

func (f *fakeMedia) remember(change func()) {
	f.mu.Lock()
	change()
	f.mu.Unlock()
}

func (f *fakeMedia) known(check func() bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return check()
}

// producerState is "live", "paused" or "" (closed or unknown).
func (f *fakeMedia) producerState(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.producers[id]
}

func notFound(w http.ResponseWriter, code, msg string) {
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
}

// since returns the calls after the first n, without /health polls.
func (f *fakeMedia) since(n int) []mediaCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []mediaCall
	for _, c := range f.calls[n:] {
		if c.Path != "/health" {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeMedia) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}
