package chat

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// fakeService is an httptest Chat Service: it stores by id, counts duplicates and fails
// on demand.
type fakeService struct {
	*httptest.Server

	mu      sync.Mutex
	stored  map[string]vocab.ChatMessage
	order   []string
	dups    int
	posts   int
	fail    func(n int) int // status for the n-th POST (1-based); 0 = store
	badID   string          // a message with this id makes the batch 400
	blocked chan struct{}   // when non-nil, POSTs wait for it to close
}

func newFakeService(t testing.TB) *fakeService {
	f := &fakeService{stored: map[string]vocab.ChatMessage{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeService) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/internal/messages" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	blocked := f.blocked
	f.mu.Unlock()
	if blocked != nil {
		select {
		case <-blocked:
		case <-r.Context().Done():
			return
		}
	}
	var body struct {
		Messages []vocab.ChatMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts++
	if f.fail != nil {
		if code := f.fail(f.posts); code != 0 {
			w.WriteHeader(code)
			return
		}
	}
	for _, m := range body.Messages {
		if m.ID == f.badID {
			http.Error(w, "invalid message", http.StatusBadRequest)
			return
		}
	}
	for _, m := range body.Messages {
		if _, ok := f.stored[m.ID]; ok {
			f.dups++
			continue
		}
		f.stored[m.ID] = m
		f.order = append(f.order, m.ID)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (f *fakeService) setFail(fn func(n int) int) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *fakeService) count() (stored, dups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stored), f.dups
}

func (f *fakeService) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.stored[id]
	return ok
}

// eventually polls cond until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
