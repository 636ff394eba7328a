package vocab

import (
	"context"
	"errors"
)

// Room modes.
const (
	ModeP2P = "p2p"
	ModeSFU = "sfu"
)

// RoomInfo is what the Room Service says about a room.
type RoomInfo struct {
	ID              string `json:"id"`
	Mode            string `json:"mode"`
	MaxParticipants int    `json:"maxParticipants,omitempty"` // 0 = no limit
	// Members, when not nil, are the only users who may join (an empty list: nobody).
	// nil means the Room Service did not restrict the room.
	Members []string `json:"members,omitzero"`
}

// Restricted reports whether the Room Service lists the room's members.
func (r RoomInfo) Restricted() bool { return r.Members != nil }

// IsMember reports whether user is on the room's member list.
func (r RoomInfo) IsMember(user string) bool {
	for _, m := range r.Members {
		if m == user {
			return true
		}
	}
	return false
}

// ErrRoomNotFound is returned by a RoomDirectory for a room that does not exist.
var ErrRoomNotFound = errors.New("room not found")

// RoomDirectory tells the hub whether a room exists and in which mode it runs.
type RoomDirectory interface {
	Lookup(ctx context.Context, roomID string) (RoomInfo, error)
}

// StaticRooms is the directory used without a Room Service: every room exists, in Mode.
type StaticRooms struct{ Mode string }

func (s StaticRooms) Lookup(_ context.Context, roomID string) (RoomInfo, error) {
	mode := s.Mode
	if mode == "" {
		mode = ModeP2P
	}
	return RoomInfo{ID: roomID, Mode: mode}, nil
}
