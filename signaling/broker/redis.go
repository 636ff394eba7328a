package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/contract"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
)

// Channel names (docs/backends.md §Redis layout; the control channel is in internal/contract).
// The room and node ids sit inside literal braces so that, with Redis Cluster, a room's
// channel hashes to the same slot as its keys.

// RoomChannel is the pub/sub channel of a room.
func RoomChannel(roomID string) string { return "channel:room:{" + roomID + "}" }

// NodeChannel is the pub/sub channel of one node.
func NodeChannel(nodeID string) string { return "channel:node:{" + nodeID + "}" }

const (
	roomChannelPrefix = "channel:room:{"
	nodeChannelPrefix = "channel:node:{"
)

// RedisOptions configure a Redis broker. Zero values take the defaults.
type RedisOptions struct {
	// NodeID is this node's id. Optional: Start's nodeID is used when empty; when both are
	// given they must agree.
	NodeID string
	// Metrics are driven when set (else throw-away collectors are used).
	Metrics *metrics.RedisMetrics
	// ProbeInterval is how often the watchdog publishes a probe to this node's own
	// channel (default 1 s).
	ProbeInterval time.Duration
	// ProbeTimeout is how long the watchdog waits for a probe to come back before it
	// declares the subscription broken and re-creates it (default 3 s).
	ProbeTimeout time.Duration
	// QueueSize bounds the messages read from Redis and not yet handled (default 8192).
	// When it is full the subscriber waits (Redis buffers for it) instead of dropping.
	QueueSize int
	Logger    *slog.Logger
	// BusKey, when set, signs every published message and drops received ones that do not
	// verify (buskey.go); nil = messages travel unsigned (and signed ones are accepted
	// without a check, so nodes can be moved to a key one by one).
	BusKey *BusKey
}

// Redis is the Broker over Redis pub/sub. One dedicated subscriber connection carries the
// node channel, the control channel and every subscribed room channel; publishes use the
// client's pool. A watchdog proves that the subscription delivers (not merely that a TCP
// connection exists) by receiving its own probes; see Ready.
type Redis struct {
	client redis.UniversalClient
	opts   RedisOptions
	log    *slog.Logger
	m      *metrics.RedisMetrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	queue  chan event
	// pubReqs feeds the publisher goroutines (redis_publisher.go).
	pubReqs chan *pubReq

	mu      sync.Mutex
	nodeID  string
	handler Handler
	rooms   map[string]struct{}
	ps      *redis.PubSub
	waiters map[string][]chan struct{} // kind+"\x00"+channel → waiting callers
	started atomic.Bool                // written under mu, read without it (Ready, publish)
	closed  atomic.Bool
	node    atomic.Pointer[string]

	lastProbe     atomic.Int64 // Unix nanos of the last own probe received
	armedAt       atomic.Int64 // Unix nanos of the last (re)subscription
	lastPubOK     atomic.Int64 // Unix nanos when probe publishing recovered
	probePubErr   atomic.Pointer[error]
	stalled       atomic.Bool // the reader waits for room in the queue
	inGap         atomic.Bool // a read error happened; not yet resubscribed
	resyncPending atomic.Bool
	healthy       atomic.Bool
}

type event struct {
	msg    Message
	resync bool
}

var _ Broker = (*Redis)(nil)

// NewRedis returns a broker over client. The client stays the caller's: Close does not
// close it. Build it with package redisconn so that it has real timeouts.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = time.Second
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 3 * time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewRedisMetrics(prometheus.NewRegistry())
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Redis{
		client:  client,
		opts:    opts,
		log:     opts.Logger.With("component", "redis-broker"),
		m:       opts.Metrics,
		ctx:     ctx,
		cancel:  cancel,
		queue:   make(chan event, opts.QueueSize),
		rooms:   map[string]struct{}{},
		waiters: map[string][]chan struct{}{},
		nodeID:  opts.NodeID,
	}
	b.m.WatchdogHealthy.Set(0)
	b.startPublishers()
	return b
}

// Start subscribes to the node, control and already-requested room channels and starts
// the subscriber, the delivery goroutine and the watchdog. It waits (up to ProbeTimeout
// or ctx) for Redis to confirm the subscription; when Redis is down it still returns nil:
// the node starts degraded (Ready reports why) and the subscription is made when Redis
// comes back.
func (b *Redis) Start(ctx context.Context, nodeID string, h Handler) error {
	if nodeID == "" || h == nil {
		return errors.New("broker: Start needs a node id and a handler")
	}
	b.mu.Lock()
	if b.started.Load() || b.closed.Load() {
		b.mu.Unlock()
		return errors.New("broker: Start called twice or after Close")
	}
	if b.nodeID != "" && b.nodeID != nodeID {
		b.mu.Unlock()
		return fmt.Errorf("broker: Start(%q) but RedisOptions.NodeID is %q", nodeID, b.nodeID)
	}
	b.nodeID, b.handler = nodeID, h
	b.node.Store(&nodeID)
	b.started.Store(true)
	b.log = b.log.With("node", nodeID)
	confirmed := b.addWaiterLocked("subscribe", NodeChannel(nodeID))
	b.resubscribeLocked(ctx)
	b.mu.Unlock()

	b.wg.Add(2)
	go b.deliver()
	go b.watchdog()

	if err := b.wait(ctx, confirmed); err != nil {
		b.log.Warn("redis subscription not confirmed at start; running degraded until Redis answers", "err", err)
	}
	return nil
}

// resubscribeLocked replaces the subscriber connection with a fresh one subscribed to
// every channel this node needs. Called with b.mu held.
func (b *Redis) resubscribeLocked(ctx context.Context) {
	old := b.ps
	ps := b.client.Subscribe(b.ctx)
	b.ps = ps
	b.armedAt.Store(time.Now().UnixNano())
	b.lastProbe.Store(0)
	if old != nil {
		// Unblocks the old reader, which sees it is retired and exits.
		_ = old.Close()
	}
	chans := []string{NodeChannel(b.nodeID), contract.ControlChannel}
	for r := range b.rooms {
		chans = append(chans, RoomChannel(r))
	}
	sctx, cancel := context.WithTimeout(ctx, b.opts.ProbeTimeout)
	if err := ps.Subscribe(sctx, chans...); err != nil {
		// go-redis keeps the channel set; the reader's next Receive dials and subscribes.
		b.log.Warn("redis subscribe failed; will retry", "err", err)
	}
	cancel()
	b.wg.Add(1)
	go b.read(ps)
}

func (b *Redis) current(ps *redis.PubSub) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ps == ps && !b.closed.Load()
}

// read is the subscriber loop of one PubSub. It uses Receive rather than go-redis's
// Channel(), which drops messages when its buffer stays full, and so that it sees
// (re)subscription confirmations (docs/failure-modes.md F6 and F3).
func (b *Redis) read(ps *redis.PubSub) {
	defer b.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		v, err := ps.Receive(b.ctx)
		if err != nil {
			if !b.current(ps) || b.ctx.Err() != nil {
				return
			}
			// The connection broke. go-redis re-dials and re-subscribes every channel on
			// the next Receive; messages published meanwhile are lost (docs/failure-modes.md F1).
			// Readiness now needs a probe that travelled the new connection.
			b.lastProbe.Store(0)
			if !b.inGap.Swap(true) {
				b.log.Warn("redis subscription lost; reconnecting", "err", err)
			}
			b.resyncPending.Store(true)
			select {
			case <-time.After(backoff):
			case <-b.ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch v := v.(type) {
		case *redis.Subscription:
			if v.Kind == "subscribe" && b.inGap.Swap(false) {
				b.m.Resubscribes.WithLabelValues("conn_error").Inc()
				b.log.Info("redis subscription re-established after a connection error")
			}
			b.confirm(v.Kind, v.Channel)
		case *redis.Message:
			b.receive(v)
		}
	}
}

func channelKind(ch string) string {
	switch {
	case strings.HasPrefix(ch, roomChannelPrefix):
		return "room"
	case strings.HasPrefix(ch, nodeChannelPrefix):
		return "node"
	case ch == contract.ControlChannel:
		return "control"
	}
	return "other"
}

func (b *Redis) receive(rm *redis.Message) {
	payload, ok := b.open(rm.Channel, []byte(rm.Payload))
	if !ok {
		return
	}
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		b.log.Warn("undecodable message on redis bus", "channel", rm.Channel, "err", err)
		return
	}
	kind := channelKind(rm.Channel)
	if m.Type == "" && rm.Channel == contract.ControlChannel {
		// A notice from outside the signaling tier (the operator's media health gate):
		// {"type":"media_health",…}. Its "type" names the control event.
		var foreign struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(payload, &foreign)
		if foreign.Type == "" {
			b.log.Warn("control message without a type", "payload", rm.Payload)
			return
		}
		m = Message{Type: TypeControl, Event: foreign.Type, Data: json.RawMessage(payload)}
	}
	if m.Type == TypeProbe {
		if m.Origin == b.nodeID {
			b.m.Received.WithLabelValues("probe").Inc()
			b.lastProbe.Store(time.Now().UnixNano())
			if b.resyncPending.Swap(false) {
				b.enqueue(event{resync: true})
			}
		}
		return
	}
	b.m.Received.WithLabelValues(kind).Inc()
	if kind == "room" {
		// This node delivered its own room messages locally already.
		if m.Origin == b.nodeID {
			return
		}
		room := strings.TrimSuffix(strings.TrimPrefix(rm.Channel, roomChannelPrefix), "}")
		b.mu.Lock()
		_, subscribed := b.rooms[room]
		b.mu.Unlock()
		if !subscribed { // in flight while we unsubscribed
			return
		}
	}
	b.enqueue(event{msg: m})
}

// enqueue hands a message to the delivery goroutine. When the queue is full it waits
// rather than dropping: Redis buffers for a slow subscriber (up to its output-buffer
// limit, docs/failure-modes.md F7) and the watchdog does not count a stall as a broken subscription.
func (b *Redis) enqueue(ev event) {
	select {
	case b.queue <- ev:
		return
	default:
	}
	b.m.DeliveryStalls.Inc()
	b.stalled.Store(true)
	defer b.stalled.Store(false)
	select {
	case b.queue <- ev:
	case <-b.ctx.Done():
	}
}

// deliver calls the handler on one goroutine, in arrival order.
func (b *Redis) deliver() {
	defer b.wg.Done()
	for {
		select {
		case ev := <-b.queue:
			if ev.resync {
				b.handler(Message{Type: TypeResubscribed})
				continue
			}
			if ev.msg.SentAt > 0 && ev.msg.Origin != b.nodeID {
				b.m.DeliveryLatency.Observe(time.Since(time.Unix(0, ev.msg.SentAt)).Seconds())
			}
			b.handler(ev.msg)
		case <-b.ctx.Done():
			return
		}
	}
}

// watchdog publishes a probe to this node's channel every ProbeInterval. When no probe
// has come back for ProbeTimeout the subscription is re-created from scratch, which also
// re-resolves the master (Sentinel) or slot owner (Cluster): a connection that looks
// healthy but delivers nothing is caught here (docs/failure-modes.md F2, F4, F5).
func (b *Redis) watchdog() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.ProbeInterval)
	defer t.Stop()
	for {
		b.probe()
		b.check()
		select {
		case <-t.C:
		case <-b.ctx.Done():
			return
		}
	}
}

func (b *Redis) probe() {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.ProbeInterval)
	defer cancel()
	payload, _ := json.Marshal(Message{Type: TypeProbe, Origin: b.nodeID, SentAt: time.Now().UnixNano()})
	err := b.client.Publish(ctx, NodeChannel(b.nodeID), b.seal(NodeChannel(b.nodeID), payload)).Err()
	if err != nil {
		if b.ctx.Err() != nil {
			return
		}
		b.probePubErr.Store(&err)
		// Whatever we hear next must be proven by a probe sent after the failure.
		b.lastProbe.Store(0)
		return
	}
	b.m.Published.WithLabelValues("probe").Inc()
	if b.probePubErr.Swap(nil) != nil {
		// Publishing works again: give the probe a full timeout to come back before the
		// subscription is declared broken.
		b.lastPubOK.Store(time.Now().UnixNano())
	}
}

func (b *Redis) check() {
	err := b.Ready()
	healthy := err == nil
	if b.healthy.Swap(healthy) != healthy {
		if healthy {
			b.log.Info("redis bus healthy: probes arrive")
		} else {
			b.log.Warn("redis bus unhealthy", "err", err)
		}
	}
	if healthy {
		b.m.WatchdogHealthy.Set(1)
		b.m.Degraded.Set(0)
		return
	}
	b.m.WatchdogHealthy.Set(0)
	b.m.Degraded.Set(1)
	now := time.Now().UnixNano()
	last := max(b.lastProbe.Load(), b.armedAt.Load(), b.lastPubOK.Load())
	if time.Duration(now-last) <= b.opts.ProbeTimeout || b.stalled.Load() {
		return
	}
	b.m.WatchdogFailures.Inc()
	b.m.Resubscribes.WithLabelValues("watchdog").Inc()
	b.log.Warn("no probe received in time: re-creating the redis subscription", "since_last_probe", sinceProbe(now, b.lastProbe.Load()))
	b.mu.Lock()
	if !b.closed.Load() {
		b.resyncPending.Store(true)
		b.resubscribeLocked(b.ctx)
	}
	b.mu.Unlock()
}

// sinceProbe is how long ago (at now) the last probe arrived, or "never" (last is 0
// until a probe has travelled the current subscription).
func sinceProbe(now, last int64) slog.Value {
	if last == 0 {
		return slog.StringValue("never")
	}
	return slog.DurationValue(time.Duration(now - last).Round(time.Millisecond))
}

// Ready reports nil only while probes can be published and this node received its own
// probe within ProbeTimeout. Errors wrap ErrUnavailable.
func (b *Redis) Ready() error {
	switch {
	case b.closed.Load():
		return fmt.Errorf("%w: broker closed", ErrUnavailable)
	case !b.started.Load():
		return fmt.Errorf("%w: broker not started", ErrUnavailable)
	}
	if p := b.probePubErr.Load(); p != nil {
		return fmt.Errorf("%w: cannot publish to redis: %w", ErrUnavailable, *p)
	}
	last := b.lastProbe.Load()
	if last == 0 {
		return fmt.Errorf("%w: no watchdog probe received yet", ErrUnavailable)
	}
	if age := time.Since(time.Unix(0, last)); age > b.opts.ProbeTimeout {
		return fmt.Errorf("%w: last watchdog probe received %s ago", ErrUnavailable, age.Round(time.Millisecond))
	}
	return nil
}

func (b *Redis) publish(ctx context.Context, kind, channel string, m Message) error {
	if b.closed.Load() {
		return fmt.Errorf("%w: broker closed", ErrUnavailable)
	}
	// Fail fast while the watchdog cannot publish either, rather than making every caller
	// wait for a dial timeout during an outage.
	if p := b.probePubErr.Load(); p != nil {
		return fmt.Errorf("%w: publish to %s: redis unreachable: %w", ErrUnavailable, channel, *p)
	}
	if p := b.node.Load(); m.Origin == "" && p != nil {
		m.Origin = *p
	}
	if m.SentAt == 0 {
		m.SentAt = time.Now().UnixNano()
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("broker: encode message: %w", err)
	}
	start := time.Now()
	if err := b.send(ctx, channel, b.seal(channel, payload)); err != nil {
		return fmt.Errorf("%w: publish to %s: %w", ErrUnavailable, channel, err)
	}
	b.m.PublishLatency.Observe(time.Since(start).Seconds())
	b.m.Published.WithLabelValues(kind).Inc()
	return nil
}

// PublishRoom sends m to every node subscribed to roomID (this node ignores its own).
func (b *Redis) PublishRoom(ctx context.Context, roomID string, m Message) error {
	return b.publish(ctx, "room", RoomChannel(roomID), m)
}

// PublishNode sends m to nodeID's channel.
func (b *Redis) PublishNode(ctx context.Context, nodeID string, m Message) error {
	return b.publish(ctx, "node", NodeChannel(nodeID), m)
}

// PublishControl sends m to every node, this one included.
func (b *Redis) PublishControl(ctx context.Context, m Message) error {
	return b.publish(ctx, "control", contract.ControlChannel, m)
}

// SubscribeRoom subscribes to roomID's channel and waits for Redis to confirm, so a
// message published by another node after it returns is delivered. The room is recorded
// even when Redis is unreachable (the error wraps ErrUnavailable): it is subscribed as
// soon as the connection is back, so callers may treat that error as a warning.
func (b *Redis) SubscribeRoom(ctx context.Context, roomID string) error {
	return b.change(ctx, roomID, true)
}

// UnsubscribeRoom unsubscribes and waits for Redis to confirm: no message of the room is
// delivered after it returns.
func (b *Redis) UnsubscribeRoom(ctx context.Context, roomID string) error {
	return b.change(ctx, roomID, false)
}

func (b *Redis) change(ctx context.Context, roomID string, subscribe bool) error {
	ch := RoomChannel(roomID)
	kind := "unsubscribe"
	if subscribe {
		kind = "subscribe"
	}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return fmt.Errorf("%w: broker closed", ErrUnavailable)
	}
	_, had := b.rooms[roomID]
	if had == subscribe {
		b.mu.Unlock()
		return nil
	}
	if subscribe {
		b.rooms[roomID] = struct{}{}
	} else {
		delete(b.rooms, roomID)
	}
	ps := b.ps
	if ps == nil { // not started: Start subscribes every recorded room
		b.mu.Unlock()
		return nil
	}
	w := b.addWaiterLocked(kind, ch)
	var err error
	if subscribe {
		err = ps.Subscribe(ctx, ch)
	} else {
		err = ps.Unsubscribe(ctx, ch)
	}
	b.mu.Unlock()
	if err != nil {
		b.dropWaiter(kind, ch, w)
		return fmt.Errorf("%w: %s %s: %w", ErrUnavailable, kind, ch, err)
	}
	if err := b.wait(ctx, w); err != nil {
		b.dropWaiter(kind, ch, w)
		return fmt.Errorf("%w: %s %s not confirmed: %w", ErrUnavailable, kind, ch, err)
	}
	return nil
}

func (b *Redis) addWaiterLocked(kind, ch string) chan struct{} {
	w := make(chan struct{})
	k := kind + "\x00" + ch
	b.waiters[k] = append(b.waiters[k], w)
	return w
}

func (b *Redis) dropWaiter(kind, ch string, w chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := kind + "\x00" + ch
	ws := b.waiters[k]
	for i, x := range ws {
		if x == w {
			b.waiters[k] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(b.waiters[k]) == 0 {
		delete(b.waiters, k)
	}
}

func (b *Redis) confirm(kind, ch string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := kind + "\x00" + ch
	for _, w := range b.waiters[k] {
		close(w)
	}
	delete(b.waiters, k)
}

func (b *Redis) wait(ctx context.Context, w chan struct{}) error {
	t := time.NewTimer(b.opts.ProbeTimeout)
	defer t.Stop()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no confirmation within %s", b.opts.ProbeTimeout)
	case <-b.ctx.Done():
		return errors.New("broker closed")
	}
}

// Close stops the watchdog, the subscriber and delivery, and closes the subscriber
// connection (not the client). It is idempotent; it must not be called from the handler.
func (b *Redis) Close() error {
	// Cancel first: a resubscription in progress holds mu while it waits for Redis, and
	// every retry loop ends on this context.
	b.cancel()
	b.mu.Lock()
	if b.closed.Swap(true) {
		b.mu.Unlock()
		return nil
	}
	ps := b.ps
	b.ps = nil
	b.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
	b.wg.Wait()
	b.m.WatchdogHealthy.Set(0)
	return nil
}
