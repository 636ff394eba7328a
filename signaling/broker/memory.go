package broker

import (
	"context"
	"sync"
)

// MemoryBus connects the MemoryBrokers of several nodes in one process. A single-node
// deployment uses one broker on its own bus; tests put several nodes on one bus.
type MemoryBus struct {
	mu    sync.RWMutex
	nodes map[string]*MemoryBroker
}

// NewMemoryBus returns an empty bus.
func NewMemoryBus() *MemoryBus { return &MemoryBus{nodes: map[string]*MemoryBroker{}} }

// MemoryBroker is the in-process Broker. Delivery is synchronous to each subscriber's
// queue and in publish order.
type MemoryBroker struct {
	bus *MemoryBus

	mu      sync.Mutex
	nodeID  string
	handler Handler
	rooms   map[string]bool
	queue   chan Message
	closed  bool
	done    chan struct{}
}

var _ Broker = (*MemoryBroker)(nil)

// NewMemory returns a broker attached to bus (a fresh bus when nil).
func NewMemory(bus *MemoryBus) *MemoryBroker {
	if bus == nil {
		bus = NewMemoryBus()
	}
	return &MemoryBroker{bus: bus, rooms: map[string]bool{}, queue: make(chan Message, 4096), done: make(chan struct{})}
}

func (b *MemoryBroker) Start(_ context.Context, nodeID string, h Handler) error {
	b.mu.Lock()
	b.nodeID, b.handler = nodeID, h
	b.mu.Unlock()
	b.bus.mu.Lock()
	b.bus.nodes[nodeID] = b
	b.bus.mu.Unlock()
	go b.deliver()
	return nil
}

// deliver runs the handler on one goroutine, so messages arrive in order.
func (b *MemoryBroker) deliver() {
	defer close(b.done)
	for m := range b.queue {
		b.handler(m)
	}
}

func (b *MemoryBroker) enqueue(m Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.queue <- m
}

func (b *MemoryBroker) PublishRoom(_ context.Context, roomID string, m Message) error {
	b.bus.mu.RLock()
	defer b.bus.mu.RUnlock()
	for _, n := range b.bus.nodes {
		n.mu.Lock()
		sub := n.rooms[roomID]
		n.mu.Unlock()
		if sub {
			n.enqueue(m)
		}
	}
	return nil
}

func (b *MemoryBroker) PublishNode(_ context.Context, nodeID string, m Message) error {
	b.bus.mu.RLock()
	n := b.bus.nodes[nodeID]
	b.bus.mu.RUnlock()
	if n != nil {
		n.enqueue(m)
	}
	return nil
}

func (b *MemoryBroker) PublishControl(_ context.Context, m Message) error {
	b.bus.mu.RLock()
	defer b.bus.mu.RUnlock()
	for _, n := range b.bus.nodes {
		n.enqueue(m)
	}
	return nil
}

func (b *MemoryBroker) SubscribeRoom(_ context.Context, roomID string) error {
	b.mu.Lock()
	b.rooms[roomID] = true
	b.mu.Unlock()
	return nil
}

func (b *MemoryBroker) UnsubscribeRoom(_ context.Context, roomID string) error {
	b.mu.Lock()
	delete(b.rooms, roomID)
	b.mu.Unlock()
	return nil
}

func (b *MemoryBroker) Ready() error { return nil }

func (b *MemoryBroker) Close() error {
	b.bus.mu.Lock()
	if b.bus.nodes[b.nodeID] == b {
		delete(b.bus.nodes, b.nodeID)
	}
	b.bus.mu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.queue)
	started := b.handler != nil
	b.mu.Unlock()
	if started {
		<-b.done
	}
	return nil
}
