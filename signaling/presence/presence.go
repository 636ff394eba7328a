// Package presence records which users are in which room, on which node.
//
// The hub keeps its own local sockets; presence is the cluster-wide index used for the
// join_room participant list, for finding the node that holds a relay target, for the
// reconnection window and for cleaning up after a crashed node. Every multi-key update is
// atomic, so a crash between two writes leaves no half-state.
package presence

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/contract"
)

// ErrUnavailable is returned (wrapped) when the presence backend cannot be reached.
var ErrUnavailable = errors.New("presence store unavailable")

// Member is one user's presence in one room.
type Member struct {
	UserID string `json:"-"`
	Name   string `json:"name"`
	NodeID string `json:"nodeId"`
	// Session is the id of the socket session that joined. A newer session of the same
	// user replaces the older one; removals name the session they expect to remove, so a
	// stale timer can never remove a user who has already come back.
	Session  string `json:"session"`
	JoinedAt int64  `json:"joinedAt"` // Unix milliseconds
}

// NodeState is what a node announces about itself (internal/contract).
type NodeState = contract.NodeState

const (
	NodeActive   = contract.NodeActive
	NodeDraining = contract.NodeDraining
)

// RoomUser names a member removed from a room.
type RoomUser struct {
	RoomID string
	UserID string
}

// Store is the presence index.
type Store interface {
	// Join records m in roomID (presence TTL ttl) and clears any disconnecting mark.
	// It returns the member record it replaced, or nil when the user was not in the room.
	Join(ctx context.Context, roomID string, m Member, ttl time.Duration) (previous *Member, err error)
	// Leave removes userID from roomID if the recorded session is session. It reports
	// whether it removed the member; exactly one caller wins for a given session.
	Leave(ctx context.Context, roomID, userID, session string) (removed bool, err error)
	// Members lists everyone in roomID, on every node.
	Members(ctx context.Context, roomID string) ([]Member, error)
	// Get returns userID's record in roomID, or nil.
	Get(ctx context.Context, roomID, userID string) (*Member, error)
	// Touch refreshes the presence TTL of userID in roomID.
	Touch(ctx context.Context, roomID, userID string, ttl time.Duration) error
	// MarkDisconnecting records that session dropped and may come back within window.
	MarkDisconnecting(ctx context.Context, roomID, userID, session string, window time.Duration) error
}

// Nodes tracks node liveness so survivors can clean up after a crashed node.
type Nodes interface {
	// Heartbeat announces nodeID alive in the given state for ttl.
	Heartbeat(ctx context.Context, nodeID string, state NodeState, ttl time.Duration) error
	// Remove deletes nodeID's liveness record (clean exit).
	Remove(ctx context.Context, nodeID string) error
	// ReapDead finds nodes whose liveness expired, claims each one exactly once
	// cluster-wide, removes their members from every room and returns them, so the
	// caller announces user_left for each.
	ReapDead(ctx context.Context) ([]RoomUser, error)
}
