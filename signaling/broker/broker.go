// Package broker moves events between signaling nodes.
//
// A node delivers events to its own sockets directly; the broker carries them to the
// other nodes. Three kinds of channel exist (names as in docs/backends.md §Redis layout):
//   - room channels (channel:room:{roomId}): a node subscribes while it has local members
//     in the room and receives every room-wide event published by other nodes;
//   - node channels (channel:node:{nodeId}): events for a user held by one specific node;
//   - the control channel (channel:control): cluster-wide notices (media health, drain).
//
// Presence (who is in which room, on which node) is kept separately, in package presence.
package broker

import (
	"context"
	"encoding/json"
	"errors"
)

// ErrUnavailable is returned (wrapped) when the broker cannot reach its backend.
// Callers use it to tell "cross-node delivery is down" from programming errors.
var ErrUnavailable = errors.New("broker unavailable")

// Message types.
const (
	// TypeRoom is a Socket.IO event for every local member of Room (except Except).
	TypeRoom = "room"
	// TypeUser is a Socket.IO event for one user (User) in Room.
	TypeUser = "user"
	// TypeReplace tells the node holding User's old session in Room that a newer
	// session took over; the old socket gets error "replaced" and leaves quietly.
	TypeReplace = "replace"
	// TypeControl is a cluster-wide control notice; Event names it, Data carries it.
	TypeControl = "control"
	// TypeProbe is a node's watchdog probe to itself.
	TypeProbe = "probe"
	// TypeResubscribed never travels: the Redis broker hands it to its own node's handler,
	// in order with the messages, when the subscription came back from a gap during which
	// messages may have been lost (pub/sub is at-most-once, docs/failure-modes.md F1, F3).
	// The node then re-reads presence and re-writes its own. Not sent for the first subscribe.
	TypeResubscribed = "resubscribed"
	// TypeTransport carries one Engine.IO session's traffic between the node that owns the
	// session and the node a client request landed on (signaling/server/sessionrelay.go):
	// Event names the step, Session the Engine.IO sid, Data the step's envelope.
	TypeTransport = "transport"
	// TypeFrame carries a recoverable frame for User's session in Room that was recovered
	// on the receiving node (signaling/hub/parking.go): the node that recorded the session's
	// missed events passes on what reached it after the hand-over. Data is the Socket.IO
	// event array, Offset its offset.
	TypeFrame = "frame"
)

// Message is what travels between nodes. It is JSON-encoded on the wire.
type Message struct {
	Type   string          `json:"t"`
	Room   string          `json:"r,omitempty"`
	Event  string          `json:"e,omitempty"`
	Data   json.RawMessage `json:"d,omitempty"`
	User   string          `json:"u,omitempty"`
	Except string          `json:"x,omitempty"`
	// From is the sending user of a TypeUser relay, so an undeliverable relay can be
	// reported back to them.
	From string `json:"f,omitempty"`
	// Hops counts how often a TypeUser relay was forwarded to the node that holds the
	// target now (at most once).
	Hops int `json:"h,omitempty"`
	// Session identifies the session a TypeReplace message is about.
	Session string `json:"s,omitempty"`
	// Origin is the publishing node. Nodes ignore room messages they published
	// themselves, because they already delivered them locally.
	Origin string `json:"o"`
	// Offset is the connection-state recovery offset of a TypeRoom, TypeUser or TypeFrame
	// event, given once by the node where the event originated, so that every node sends
	// the same offset and a recovering session can drop an event it already has.
	Offset string `json:"of,omitempty"`
	// SentAt is the publish time in Unix nanoseconds (for latency metrics).
	SentAt int64 `json:"ts,omitempty"`
}

// Handler receives every message for this node. It must not block for long: it runs
// on the broker's delivery goroutine.
type Handler func(Message)

// Broker is the publish/subscribe bus between nodes.
type Broker interface {
	// Start begins delivery to h of messages on this node's channel, the control
	// channel and every subscribed room channel. It is called once.
	Start(ctx context.Context, nodeID string, h Handler) error
	// PublishRoom sends m to every node subscribed to roomID.
	PublishRoom(ctx context.Context, roomID string, m Message) error
	// PublishNode sends m to the node nodeID.
	PublishNode(ctx context.Context, nodeID string, m Message) error
	// PublishControl sends m to every node.
	PublishControl(ctx context.Context, m Message) error
	// SubscribeRoom and UnsubscribeRoom are reference-counted by the caller: the hub
	// subscribes when its first local member joins a room and unsubscribes after the last leaves.
	SubscribeRoom(ctx context.Context, roomID string) error
	UnsubscribeRoom(ctx context.Context, roomID string) error
	// Ready reports whether cross-node delivery currently works (nil) or why not.
	Ready() error
	// Close stops delivery and releases connections. It is idempotent.
	Close() error
}
