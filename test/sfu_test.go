package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/controllers/clusterredis"
	"github.com/switchboard-rtc/switchboard/internal/contract"
	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/rooms"
	"github.com/switchboard-rtc/switchboard/signaling/sfu"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// fakeRoomService implements GET /internal/rooms/{roomId} (docs/backends.md §Room Service) and
// counts the calls per room. Rooms not in rooms get 404.
type fakeRoomService struct {
	*httptest.Server
	mu    sync.Mutex
	rooms map[string]vocab.RoomInfo
	calls map[string]int
	fail  atomic.Bool // 500 for everything
	slow  atomic.Bool // answer only when the caller gives up
	delay time.Duration
}

func newFakeRoomService(t *testing.T, rs ...vocab.RoomInfo) *fakeRoomService {
	f := &fakeRoomService{rooms: map[string]vocab.RoomInfo{}, calls: map[string]int{}}
	for _, r := range rs {
		f.rooms[r.ID] = r
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRoomService) serve(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/internal/rooms/")
	if r.Method != http.MethodGet || !ok {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.calls[id]++
	info, known := f.rooms[id]
	f.mu.Unlock()
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	switch {
	case f.slow.Load():
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	case f.fail.Load():
		http.Error(w, `{"error":"database down"}`, http.StatusInternalServerError)
		return
	case !known:
		http.Error(w, `{"error":"no such room"}`, http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(info)
}

func (f *fakeRoomService) callsFor(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

// sfuEnv is a Room Service, a Media Service and a Redis shared by SFU test nodes.
type sfuEnv struct {
	redis *redisserver.Server
	rdb   *redis.Client
	rooms *fakeRoomService
	media *fakeMedia
}

func newSFUEnv(t *testing.T, rs ...vocab.RoomInfo) *sfuEnv {
	rs = append(rs, vocab.RoomInfo{ID: "p2p-room", Mode: vocab.ModeP2P})
	srv := redisserver.Start(t, redisserver.Options{})
	return &sfuEnv{redis: srv, rdb: srv.Client(), rooms: newFakeRoomService(t, rs...), media: newFakeMedia(t)}
}

// node starts a signaling node with the room cache and the SFU proxy on the env's services.
func (e *sfuEnv) node(t *testing.T, id string, tweak func(*sfu.Options)) (*nodetest.Node, *sfu.Service) {
	t.Helper()
	rdb := e.redis.Client()
	dir := rooms.New(rooms.Options{ServiceURL: e.rooms.URL, Timeout: 500 * time.Millisecond, Redis: rdb})
	opts := sfu.Options{
		MediaURL: e.media.URL, Rooms: dir, Redis: rdb,
		CreateTimeout: time.Second, CallTimeout: time.Second,
		BreakerThreshold: 3, HealthInterval: 100 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&opts)
	}
	n := nodetest.Start(t, nodetest.Config{
		NodeID: id, RedisURL: e.redis.URL(), Hub: hub.Options{Rooms: dir}, SFU: &opts,
	})
	waitReady(t, n, 10*time.Second)
	return n, n.SFU
}

// eventually polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func call(t *testing.T, c *sioclient.Client, event string, payload any, out any) error {
	t.Helper()
	return c.Call(nodetest.Ctx(t, 10*time.Second), event, payload, out)
}

func mustCall(t *testing.T, c *sioclient.Client, event string, payload any, out any) {
	t.Helper()
	if err := call(t, c, event, payload, out); err != nil {
		t.Fatalf("%s: %v", event, err)
	}
}

func joinMode(t *testing.T, c *sioclient.Client, room string) string {
	t.Helper()
	var a struct {
		Mode string `json:"mode"`
	}
	mustCall(t, c, "join_room", map[string]string{"roomId": room}, &a)
	return a.Mode
}

type transportAck struct {
	Transport struct {
		ID             string          `json:"id"`
		ICEParameters  json.RawMessage `json:"iceParameters"`
		ICECandidates  json.RawMessage `json:"iceCandidates"`
		DTLSParameters json.RawMessage `json:"dtlsParameters"`
	} `json:"transport"`
}

func createTransport(t *testing.T, c *sioclient.Client, direction string) string {
	t.Helper()
	var a transportAck
	mustCall(t, c, "sfu_create_transport", map[string]string{"direction": direction}, &a)
	if a.Transport.ID == "" || len(a.Transport.ICEParameters) == 0 || len(a.Transport.ICECandidates) == 0 || len(a.Transport.DTLSParameters) == 0 {
		t.Fatalf("transport ack incomplete: %+v", a)
	}
	return a.Transport.ID
}

var rtpParams = json.RawMessage(`{"codecs":[{"mimeType":"video/VP8","payloadType":96}],"encodings":[{"ssrc":1111}]}`)

// TestSFUNegotiationAcrossTwoNodes runs the whole mediasoup-style negotiation for two
// users on two nodes and checks that the Media Service saw exactly the contract's calls.
func TestSFUNegotiationAcrossTwoNodes(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	na, _ := e.node(t, "node-a", nil)
	nb, _ := e.node(t, "node-b", nil)
	alice := nodetest.Connect(t, na, "alice")
	bob := nodetest.Connect(t, nb, "bob")
	if m := joinMode(t, alice, "conf"); m != "sfu" {
		t.Fatalf("alice's join mode = %q, want sfu", m)
	}
	if m := joinMode(t, bob, "conf"); m != "sfu" {
		t.Fatalf("bob's join mode = %q, want sfu", m)
	}
	start := e.media.count()

	var caps struct {
		RTPCapabilities json.RawMessage `json:"rtpCapabilities"`
	}
	mustCall(t, alice, "sfu_get_router_capabilities", map[string]any{}, &caps)
	if !jsonEqual(caps.RTPCapabilities, json.RawMessage(fakeCaps)) {
		t.Fatalf("rtpCapabilities = %s, want %s", caps.RTPCapabilities, fakeCaps)
	}
	send := createTransport(t, alice, "send")
	mustCall(t, alice, "sfu_connect_transport", map[string]any{"transportId": send, "dtlsParameters": map[string]any{"role": "client", "fingerprints": []any{}}}, nil)
	var prod struct {
		ProducerID string `json:"producerId"`
	}
	mustCall(t, alice, "sfu_produce", map[string]any{"transportId": send, "kind": "video", "rtpParameters": rtpParams, "appData": map[string]any{"source": "camera"}}, &prod)
	if prod.ProducerID == "" {
		t.Fatal("sfu_produce ack without producerId")
	}

	np := next(t, bob, "sfu_new_producer", 5*time.Second)
	if np["roomId"] != "conf" || np["producerId"] != prod.ProducerID || np["userId"] != "alice" || np["kind"] != "video" {
		t.Fatalf("sfu_new_producer = %v", np)
	}

	mustCall(t, bob, "sfu_get_router_capabilities", nil, nil)
	recv := createTransport(t, bob, "recv")
	mustCall(t, bob, "sfu_connect_transport", map[string]any{"transportId": recv, "dtlsParameters": map[string]any{"role": "client"}}, nil)
	var cons struct {
		Consumer struct {
			ID            string          `json:"id"`
			ProducerID    string          `json:"producerId"`
			Kind          string          `json:"kind"`
			RTPParameters json.RawMessage `json:"rtpParameters"`
		} `json:"consumer"`
	}
	mustCall(t, bob, "sfu_consume", map[string]any{"transportId": recv, "producerId": prod.ProducerID, "rtpCapabilities": json.RawMessage(fakeCaps)}, &cons)
	if cons.Consumer.ID == "" || cons.Consumer.ProducerID != prod.ProducerID || cons.Consumer.Kind != "video" || len(cons.Consumer.RTPParameters) == 0 {
		t.Fatalf("consumer = %+v", cons.Consumer)
	}
	mustCall(t, bob, "sfu_resume_consumer", map[string]any{"consumerId": cons.Consumer.ID}, nil)

	got := e.media.since(start)
	want := []string{
		"GET /rooms/conf/rtp-capabilities",
		"POST /rooms/conf/transports",
		"POST /rooms/conf/transports/" + send + "/connect",
		"POST /rooms/conf/transports/" + send + "/producers",
		"GET /rooms/conf/rtp-capabilities",
		"POST /rooms/conf/transports",
		"POST /rooms/conf/transports/" + recv + "/connect",
		"POST /rooms/conf/transports/" + recv + "/consumers",
		"POST /rooms/conf/consumers/" + cons.Consumer.ID + "/resume",
	}
	if len(got) != len(want) {
		t.Fatalf("media calls:\n got %v\nwant %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("media call %d = %s, want %s (all: %v)", i, got[i], want[i], got)
		}
	}
	if got[1].str("peerId") != "alice" || got[1].str("direction") != "send" {
		t.Errorf("alice's transport request = %v", got[1].Body)
	}
	if got[5].str("peerId") != "bob" || got[5].str("direction") != "recv" {
		t.Errorf("bob's transport request = %v", got[5].Body)
	}
	if got[3].str("kind") != "video" || !jsonEqual(got[3].Body["rtpParameters"], rtpParams) || !jsonEqual(got[3].Body["appData"], json.RawMessage(`{"source":"camera"}`)) {
		t.Errorf("produce request = %v", got[3].Body)
	}
	if got[7].str("producerId") != prod.ProducerID || !jsonEqual(got[7].Body["rtpCapabilities"], json.RawMessage(fakeCaps)) {
		t.Errorf("consume request = %v", got[7].Body)
	}
	if !jsonEqual(got[2].Body["dtlsParameters"], json.RawMessage(`{"role":"client","fingerprints":[]}`)) {
		t.Errorf("connect request = %v", got[2].Body)
	}

	// A late joiner on node-a learns the existing producer from its join ack.
	carol := nodetest.Connect(t, na, "carol")
	if ps := joinProducers(t, carol, "conf"); len(ps) != 1 || ps[0].ProducerID != prod.ProducerID || ps[0].UserID != "alice" || ps[0].Kind != "video" || ps[0].Paused {
		t.Fatalf("late joiner's join ack producers = %+v", ps)
	}
	createTransport(t, carol, "recv")

	// Alice leaves: the Media Service closes her peer, the room hears her producer closed.
	beforeLeave := e.media.count()
	mustCall(t, alice, "leave_room", map[string]any{}, nil)
	pc := next(t, bob, "sfu_producer_closed", 5*time.Second)
	if pc["roomId"] != "conf" || pc["producerId"] != prod.ProducerID || pc["userId"] != "alice" {
		t.Fatalf("sfu_producer_closed = %v", pc)
	}
	if pc := next(t, carol, "sfu_producer_closed", 5*time.Second); pc["producerId"] != prod.ProducerID {
		t.Fatalf("carol's sfu_producer_closed = %v", pc)
	}
	leaveCalls := e.media.since(beforeLeave)
	if len(leaveCalls) != 1 || leaveCalls[0].String() != "DELETE /rooms/conf/peers/alice" {
		t.Fatalf("media calls on leave = %v, want one DELETE /rooms/conf/peers/alice", leaveCalls)
	}
	if n := e.rdb.HLen(context.Background(), sfu.ProducersKey("conf")).Val(); n != 0 {
		t.Fatalf("%s still holds %d producers after alice left", sfu.ProducersKey("conf"), n)
	}
}

// TestSFUFinalDisconnectClosesThePeer: a dropped user's peer is closed after the
// reconnection window, by the exactly-once member-gone hook.
func TestSFUFinalDisconnectClosesThePeer(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	na, _ := e.node(t, "node-a", nil)
	nb, _ := e.node(t, "node-b", nil)
	alice, err := sioclient.Dial(context.Background(), na.URL, sioclient.Options{Token: nodetest.Token(t, "alice")})
	if err != nil {
		t.Fatal(err)
	}
	bob := nodetest.Connect(t, nb, "bob")
	joinMode(t, alice, "conf")
	joinMode(t, bob, "conf")
	send := createTransport(t, alice, "send")
	var prod struct {
		ProducerID string `json:"producerId"`
	}
	mustCall(t, alice, "sfu_produce", map[string]any{"transportId": send, "kind": "audio", "rtpParameters": rtpParams}, &prod)
	before := e.media.count()
	alice.Close() // transport drop, no DISCONNECT packet
	pc := next(t, bob, "sfu_producer_closed", 15*time.Second)
	if pc["producerId"] != prod.ProducerID || pc["userId"] != "alice" {
		t.Fatalf("sfu_producer_closed = %v", pc)
	}
	calls := e.media.since(before)
	if len(calls) != 1 || calls[0].String() != "DELETE /rooms/conf/peers/alice" {
		t.Fatalf("media calls after the window = %v", calls)
	}
	if e.rdb.Exists(context.Background(), sfu.OwnedKey("conf", "alice")).Val() != 0 {
		t.Fatal("alice's ownership record outlived her reconnection window")
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// TestRoomCacheReadThrough: 50 simultaneous joins of an uncached room make one Room
// Service call; the answer is cached in Redis with a TTL of at most an hour; later joins
// make none.
func TestRoomCacheReadThrough(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "busy", Mode: vocab.ModeP2P})
	e.rooms.delay = 200 * time.Millisecond // keep the first call in flight while the others arrive
	n, _ := e.node(t, "node-a", nil)
	clients := make([]*sioclient.Client, 50)
	for i := range clients {
		clients[i] = nodetest.Connect(t, n, fmt.Sprintf("u%02d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Call(nodetest.Ctx(t, 15*time.Second), "join_room", map[string]string{"roomId": "busy"}, nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("join: %v", err)
	}
	if got := e.rooms.callsFor("busy"); got != 1 {
		t.Fatalf("Room Service calls for 50 simultaneous joins = %d, want 1", got)
	}
	ttl := e.rdb.TTL(context.Background(), rooms.Key("busy")).Val()
	if ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL of %s = %s, want (0, 1h]", rooms.Key("busy"), ttl)
	}
	var cached vocab.RoomInfo
	if err := json.Unmarshal([]byte(e.rdb.Get(context.Background(), rooms.Key("busy")).Val()), &cached); err != nil || cached.Mode != "p2p" {
		t.Fatalf("cached %s = %+v (%v)", rooms.Key("busy"), cached, err)
	}

	// A hit: another node, another user, no Room Service call — even while it is down.
	e.rooms.fail.Store(true)
	n2, _ := e.node(t, "node-b", nil)
	late := nodetest.Connect(t, n2, "late")
	join(t, late, "busy")
	if got := e.rooms.callsFor("busy"); got != 1 {
		t.Fatalf("Room Service calls after a cache hit = %d, want 1", got)
	}
}

// TestRoomServiceFailures: 404 → room_not_found, 500 and a slow service → internal, and
// nothing is cached for them.
func TestRoomServiceFailures(t *testing.T) {
	e := newSFUEnv(t)
	n, _ := e.node(t, "node-a", nil)
	c := nodetest.Connect(t, n, "alice")

	if err := call(t, c, "join_room", map[string]string{"roomId": "nowhere"}, nil); code(err) != "room_not_found" {
		t.Fatalf("unknown room: %v, want room_not_found", err)
	}
	e.rooms.mu.Lock()
	e.rooms.rooms["later"] = vocab.RoomInfo{ID: "later", Mode: vocab.ModeP2P}
	e.rooms.mu.Unlock()
	e.rooms.fail.Store(true)
	err := call(t, c, "join_room", map[string]string{"roomId": "later"}, nil)
	if code(err) != "internal" || !strings.Contains(err.Error(), "room service") {
		t.Fatalf("Room Service 500: %v, want internal naming the room service", err)
	}
	e.rooms.fail.Store(false)
	e.rooms.slow.Store(true)
	if err := call(t, c, "join_room", map[string]string{"roomId": "later"}, nil); code(err) != "internal" {
		t.Fatalf("slow Room Service: %v, want internal", err)
	}
	if n := e.rdb.Exists(context.Background(), rooms.Key("later"), rooms.Key("nowhere")).Val(); n != 0 {
		t.Fatalf("failures were cached (%d keys)", n)
	}
	e.rooms.slow.Store(false)
	join(t, c, "later")
}

// TestRoomFullFromRoomService: maxParticipants from the Room Service is enforced.
func TestRoomFullFromRoomService(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "tiny", Mode: vocab.ModeSFU, MaxParticipants: 1})
	n, _ := e.node(t, "node-a", nil)
	join(t, nodetest.Connect(t, n, "alice"), "tiny")
	if err := call(t, nodetest.Connect(t, n, "bob"), "join_room", map[string]string{"roomId": "tiny"}, nil); code(err) != "room_full" {
		t.Fatalf("second join: %v, want room_full", err)
	}
}

// TestSFUPayloadErrors: Media Service 4xx → invalid_payload with its message; sfu_* in a
// p2p room → not_sfu_room; outside a room → not_in_room; bad payloads never reach the
// Media Service.
func TestSFUPayloadErrors(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	n, _ := e.node(t, "node-a", nil)
	c := nodetest.Connect(t, n, "alice")
	if err := call(t, c, "sfu_get_router_capabilities", nil, nil); code(err) != "not_in_room" {
		t.Fatalf("outside a room: %v", err)
	}
	join(t, c, "p2p-room")
	if err := call(t, c, "sfu_create_transport", map[string]string{"direction": "send"}, nil); code(err) != "not_sfu_room" {
		t.Fatalf("p2p room: %v, want not_sfu_room", err)
	}
	join(t, c, "conf")
	send := createTransport(t, c, "send")
	before := e.media.count()
	err := call(t, c, "sfu_produce", map[string]any{"transportId": send, "kind": "video", "rtpParameters": map[string]any{"broken": true}}, nil)
	if code(err) != "invalid_payload" || !strings.Contains(err.Error(), "rtpParameters.codecs must not be empty") {
		t.Fatalf("media 4xx: %v, want invalid_payload with the media service's message", err)
	}
	if e.media.count() != before+1 {
		t.Fatalf("the 4xx produce should be one call")
	}
	before = e.media.count()
	for _, bad := range []struct {
		event   string
		payload any
	}{
		{"sfu_create_transport", map[string]any{"direction": "sideways"}},
		{"sfu_create_transport", "send"},
		{"sfu_connect_transport", map[string]any{"transportId": send}},
		{"sfu_produce", map[string]any{"transportId": send, "kind": "smell", "rtpParameters": rtpParams}},
		{"sfu_produce", map[string]any{"transportId": send, "kind": "audio"}},
		{"sfu_consume", map[string]any{"transportId": send, "producerId": 7, "rtpCapabilities": map[string]any{}}},
		{"sfu_resume_consumer", map[string]any{}},
	} {
		if err := call(t, c, bad.event, bad.payload, nil); code(err) != "invalid_payload" {
			t.Errorf("%s %v: %v, want invalid_payload", bad.event, bad.payload, err)
		}
	}
	if got := e.media.since(before); len(got) != 0 {
		t.Fatalf("invalid payloads reached the Media Service: %v", got)
	}
}

// TestSFUOwnership: a user may only use the transports and consumers created for them.
func TestSFUOwnership(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	n, _ := e.node(t, "node-a", nil)
	alice := nodetest.Connect(t, n, "alice")
	bob := nodetest.Connect(t, n, "bob")
	join(t, alice, "conf")
	join(t, bob, "conf")
	aliceSend := createTransport(t, alice, "send")
	aliceRecv := createTransport(t, alice, "recv")
	before := e.media.count()
	for _, try := range []struct {
		event   string
		payload any
	}{
		{"sfu_connect_transport", map[string]any{"transportId": aliceSend, "dtlsParameters": map[string]any{"role": "client"}}},
		{"sfu_produce", map[string]any{"transportId": aliceSend, "kind": "video", "rtpParameters": rtpParams}},
		{"sfu_consume", map[string]any{"transportId": aliceRecv, "producerId": "p1", "rtpCapabilities": json.RawMessage(fakeCaps)}},
		{"sfu_resume_consumer", map[string]any{"consumerId": "c-of-someone-else"}},
		{"sfu_connect_transport", map[string]any{"transportId": "made-up", "dtlsParameters": map[string]any{}}},
	} {
		if err := call(t, bob, try.event, try.payload, nil); code(err) != "forbidden" {
			t.Errorf("bob %s on alice's ids: %v, want forbidden", try.event, err)
		}
	}
	if got := e.media.since(before); len(got) != 0 {
		t.Fatalf("forbidden calls reached the Media Service: %v", got)
	}
	// Alice herself can.
	mustCall(t, alice, "sfu_connect_transport", map[string]any{"transportId": aliceSend, "dtlsParameters": map[string]any{"role": "client"}}, nil)
}

// TestMediaBreakerOpensFailsFastAndRecovers: N consecutive failures open the breaker;
// further sfu_* calls fail fast with media_unavailable without touching the Media
// Service, the client gets an `error` event; once /health passes, calls go through again.
func TestMediaBreakerOpensFailsFastAndRecovers(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	n, svc := e.node(t, "node-a", func(o *sfu.Options) { o.DisableFallback = true })
	c := nodetest.Connect(t, n, "alice")
	join(t, c, "conf")
	mustCall(t, c, "sfu_get_router_capabilities", nil, nil)

	e.media.down.Store(true)
	before := e.media.count()
	for i := range 3 {
		err := call(t, c, "sfu_get_router_capabilities", nil, nil)
		var ae *sioclient.AckError
		if code(err) != "media_unavailable" || !asAck(err, &ae) || ae.Message != "Media Server Unavailable" {
			t.Fatalf("failure %d: %v, want media_unavailable \"Media Server Unavailable\"", i+1, err)
		}
	}
	if got := len(e.media.since(before)); got != 3 {
		t.Fatalf("media calls before the breaker opened = %d, want 3", got)
	}
	if !svc.BreakerOpen() {
		t.Fatal("breaker not open after 3 consecutive failures")
	}
	ev := next(t, c, "error", 5*time.Second)
	if ev["code"] != "media_unavailable" || ev["message"] != "Media Server Unavailable" {
		t.Fatalf("error event = %v", ev)
	}

	before = e.media.count()
	for range 5 {
		if err := call(t, c, "sfu_create_transport", map[string]string{"direction": "send"}, nil); code(err) != "media_unavailable" {
			t.Fatalf("with the breaker open: %v, want media_unavailable", err)
		}
	}
	if got := e.media.since(before); len(got) != 0 {
		t.Fatalf("calls reached the Media Service while the breaker was open: %v", got)
	}

	e.media.down.Store(false)
	waitFor(t, 10*time.Second, "breaker closes after /health passes", func() bool { return !svc.BreakerOpen() })
	createTransport(t, c, "send")
}

func asAck(err error, out **sioclient.AckError) bool {
	ae, ok := err.(*sioclient.AckError)
	*out = ae
	return ok
}

// TestP2PFallbackAndBack: while the Media Service is down, a room of 3 switches to P2P
// (room_mode_changed, webrtc_* works, late joiners see p2p) and back to sfu when it
// returns; a room of 4 stays in sfu.
func TestP2PFallbackAndBack(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "small", Mode: vocab.ModeSFU}, vocab.RoomInfo{ID: "big", Mode: vocab.ModeSFU})
	na, svcA := e.node(t, "node-a", func(o *sfu.Options) { o.BreakerThreshold = 1 })
	nb, _ := e.node(t, "node-b", func(o *sfu.Options) { o.BreakerThreshold = 1 })
	small := []*sioclient.Client{nodetest.Connect(t, na, "alice"), nodetest.Connect(t, nb, "bob"), nodetest.Connect(t, na, "carol")}
	for _, c := range small {
		if m := joinMode(t, c, "small"); m != "sfu" {
			t.Fatalf("join mode before the outage = %s", m)
		}
	}
	var big []*sioclient.Client
	for i := range 4 {
		c := nodetest.Connect(t, na, fmt.Sprintf("big%d", i))
		join(t, c, "big")
		big = append(big, c)
	}

	e.media.down.Store(true)
	if err := call(t, small[0], "sfu_create_transport", map[string]string{"direction": "send"}, nil); code(err) != "media_unavailable" {
		t.Fatalf("create transport during the outage: %v", err)
	}
	waitFor(t, 5*time.Second, "breaker open on node-a", svcA.BreakerOpen)
	for i, c := range small {
		ev := next(t, c, "room_mode_changed", 5*time.Second)
		if ev["roomId"] != "small" || ev["mode"] != "p2p" {
			t.Fatalf("member %d: room_mode_changed = %v, want p2p", i, ev)
		}
	}
	// P2P works across nodes.
	mustCall(t, small[0], "webrtc_offer", map[string]any{"to": "bob", "sdp": map[string]string{"type": "offer", "sdp": "v=0"}}, nil)
	if ev := next(t, small[1], "webrtc_offer", 5*time.Second); ev["from"] != "alice" {
		t.Fatalf("webrtc_offer = %v", ev)
	}
	// Each member heard the switch once (one node announced it).
	if n, p := count(small[1], "room_mode_changed", 300*time.Millisecond); n != 0 {
		t.Fatalf("bob got more room_mode_changed: %v", p)
	}
	// A late joiner during the outage is told p2p.
	if m := joinMode(t, nodetest.Connect(t, nb, "dave"), "small"); m != "p2p" {
		t.Fatalf("late joiner's mode = %s, want p2p", m)
	}
	// The room of four stays in sfu.
	if n, p := count(big[0], "room_mode_changed", 300*time.Millisecond); n != 0 {
		t.Fatalf("a room of 4 changed mode: %v", p)
	}

	e.media.down.Store(false)
	for i, c := range small {
		ev := next(t, c, "room_mode_changed", 10*time.Second)
		if ev["roomId"] != "small" || ev["mode"] != "sfu" {
			t.Fatalf("member %d: room_mode_changed = %v, want sfu", i, ev)
		}
	}
	createTransport(t, small[0], "send")
	if n := e.rdb.Exists(context.Background(), sfu.FallbackKey("small")).Val(); n != 0 {
		t.Fatal("fallback flag left behind after recovery")
	}
}

// TestOperatorVerdictDrivesBreakersOnAllNodes: the operator's published verdict (the
// media_health notice on channel:control and the stored media:health) opens and closes
// the breaker of every node at once; a node that starts while media:health says
// unhealthy starts with its breaker open.
func TestOperatorVerdictDrivesBreakersOnAllNodes(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	noFallback := func(o *sfu.Options) { o.DisableFallback = true }
	na, svcA := e.node(t, "node-a", noFallback)
	nb, svcB := e.node(t, "node-b", noFallback)
	ca := nodetest.Connect(t, na, "alice")
	cb := nodetest.Connect(t, nb, "bob")
	join(t, ca, "conf")
	join(t, cb, "conf")

	// The verdicts come from the operator's own publisher (the cross test of the
	// operator↔node contract in internal/contract): what it writes, the nodes obey.
	operator := clusterredis.Dial(clusterredis.Config{Addrs: []string{e.redis.Addr()}})
	t.Cleanup(func() { _ = operator.Close() })
	verdict := func(healthy bool) {
		v := contract.MediaVerdict{Healthy: healthy, Reason: "probe", CheckedAt: time.Now().UnixMilli(), Cluster: "default/sc"}
		if err := operator.PublishMediaVerdict(context.Background(), v, time.Minute, true); err != nil {
			t.Fatal(err)
		}
	}
	verdict(false)
	waitFor(t, 5*time.Second, "both breakers open", func() bool { return svcA.BreakerOpen() && svcB.BreakerOpen() })
	before := e.media.count()
	for _, c := range []*sioclient.Client{ca, cb} {
		if err := call(t, c, "sfu_get_router_capabilities", nil, nil); code(err) != "media_unavailable" {
			t.Fatalf("with the operator's unhealthy verdict: %v", err)
		}
	}
	if got := e.media.since(before); len(got) != 0 {
		t.Fatalf("calls reached the Media Service: %v", got)
	}
	// The media service answers /health, but the operator's stored verdict still holds.
	time.Sleep(300 * time.Millisecond)
	if !svcA.BreakerOpen() || !svcB.BreakerOpen() {
		t.Fatal("a passing local health check overrode the operator's unhealthy verdict")
	}
	_, svcC := e.node(t, "node-c", noFallback)
	if !svcC.BreakerOpen() {
		t.Fatal("a node started under an unhealthy media:health verdict has its breaker closed")
	}

	verdict(true)
	waitFor(t, 5*time.Second, "all breakers closed", func() bool {
		return !svcA.BreakerOpen() && !svcB.BreakerOpen() && !svcC.BreakerOpen()
	})
	mustCall(t, ca, "sfu_get_router_capabilities", nil, nil)
	mustCall(t, cb, "sfu_get_router_capabilities", nil, nil)
}
