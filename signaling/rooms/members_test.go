package rooms

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
)

// roomServiceBody answers every room with body and counts the calls.
func roomServiceBody(t *testing.T, body string, calls *atomic.Int32) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestMembersSurviveTheRedisCache(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	rdb := rs.Client()
	ctx := context.Background()
	for _, tc := range []struct {
		body       string
		restricted bool
		members    int
	}{
		{`{"mode":"p2p","members":["alice","bob"]}`, true, 2},
		{`{"mode":"p2p","members":[]}`, true, 0}, // nobody: not the same as no list
		{`{"mode":"p2p"}`, false, 0},
	} {
		var calls atomic.Int32
		url := roomServiceBody(t, tc.body, &calls)
		_ = rdb.Del(ctx, Key("r1")).Err()
		for i := range 2 { // a miss, then a hit from another node's cache
			info, err := New(Options{ServiceURL: url, Redis: rdb}).Lookup(ctx, "r1")
			if err != nil {
				t.Fatal(err)
			}
			if info.Restricted() != tc.restricted || len(info.Members) != tc.members {
				t.Fatalf("%s, lookup %d: members %#v", tc.body, i, info.Members)
			}
		}
		if calls.Load() != 1 {
			t.Fatalf("%s: %d Room Service calls, want 1", tc.body, calls.Load())
		}
	}
}

// An entry written by a node that did not know `members` must not read as "unrestricted".
func TestCacheEntryWithoutMembersSchemaIsRefetched(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	rdb := rs.Client()
	ctx := context.Background()
	if err := rdb.Set(ctx, Key("r1"), `{"id":"r1","mode":"p2p"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	url := roomServiceBody(t, `{"mode":"p2p","members":["alice"]}`, &calls)
	info, err := New(Options{ServiceURL: url, Redis: rdb}).Lookup(ctx, "r1")
	if err != nil || !info.IsMember("alice") || info.IsMember("bob") || calls.Load() != 1 {
		t.Fatalf("lookup = %+v, %v after %d calls; want the Room Service's member list", info, err, calls.Load())
	}
}

func TestMalformedMembersAreAnUpstreamError(t *testing.T) {
	var calls atomic.Int32
	url := roomServiceBody(t, `{"mode":"p2p","members":"alice"}`, &calls)
	if _, err := New(Options{ServiceURL: url}).Lookup(context.Background(), "r1"); err == nil {
		t.Fatal(`"members":"alice" accepted; a malformed list must not open the room`)
	}
}
