// Room grants: who may join which room (docs/security.md §Room grants).

package hub

import (
	"context"
	"errors"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// errNotGranted is answered to every join the grants refuse. Its message names neither the
// reason nor whether the room exists, so a refused user learns nothing about the room.
func errNotGranted(room string) *vocab.Error {
	return vocab.Errorf(vocab.CodeForbidden, "you may not join room %q", room)
}

// claimRefuses reports whether the session's `rooms` claim alone rules room out. It needs
// no Room Service call, so a room outside the claim is refused before its existence is
// looked up.
func claimRefuses(s *Session, room string) bool {
	g := s.Grants()
	return g.Present() && !g.Allows(room)
}

// granted decides a join of room, whose Room Service record is info (found false: the
// room does not exist). Every grant source that is present must allow the user; with
// RequireRoomGrant at least one must be present. For a room that does not exist the
// answer is the one a user without a member-list grant would get for an existing room,
// so that a user who may not see the room cannot tell the two apart.
func (h *Hub) granted(s *Session, room string, info vocab.RoomInfo, found bool) bool {
	g := s.Grants()
	if g.Present() && !g.Allows(room) {
		return false
	}
	if found && info.Restricted() && !info.IsMember(s.User.UserID) {
		return false
	}
	if !h.opts.RequireRoomGrant {
		return true
	}
	return g.Present() || (found && info.Restricted())
}

// lookupGranted looks room up and checks the grants. It returns the room's record, or the
// error to answer: forbidden for a room the user may not join (existing or not),
// room_not_found only for a room the user would be allowed to see, internal when the Room
// Service cannot say.
func (h *Hub) lookupGranted(ctx context.Context, s *Session, room string) (vocab.RoomInfo, *vocab.Error) {
	if claimRefuses(s, room) {
		return vocab.RoomInfo{}, errNotGranted(room)
	}
	info, err := h.opts.Rooms.Lookup(ctx, room)
	found := err == nil
	if err != nil && !errors.Is(err, vocab.ErrRoomNotFound) {
		h.log.Warn("room lookup failed", "room", room, "err", err)
		return vocab.RoomInfo{}, vocab.Errorf(vocab.CodeInternal, "could not load room %q: the room service is unavailable; try again", room)
	}
	if !h.granted(s, room, info, found) {
		h.log.Debug("join refused by room grants", "room", room, "user", s.User.UserID, "exists", found)
		return vocab.RoomInfo{}, errNotGranted(room)
	}
	if !found {
		return vocab.RoomInfo{}, vocab.Errorf(vocab.CodeRoomNotFound, "room %q does not exist", room)
	}
	return info, nil
}
