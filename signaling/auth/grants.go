package auth

import (
	"encoding/json"
	"errors"
	"strings"
)

// RoomGrant is a token's `rooms` claim (docs/protocol.md §Room grants): the rooms its
// holder may join. An entry ending in `*` grants every room id with that prefix, `"*"`
// grants every room. The zero value is "no claim": the token says nothing about rooms,
// which is not the same as a claim with no entries (no room at all).
type RoomGrant struct {
	present bool
	entries []string
}

// NewRoomGrant is the claim `"rooms": entries` (present, even when entries is empty).
func NewRoomGrant(entries ...string) RoomGrant {
	return RoomGrant{present: true, entries: append([]string{}, entries...)}
}

// Present reports whether the token carried a `rooms` claim.
func (g RoomGrant) Present() bool { return g.present }

// Allows reports whether the claim grants room. Without a claim it grants nothing:
// callers decide what an absent claim means (docs/security.md §Room grants).
func (g RoomGrant) Allows(room string) bool {
	for _, e := range g.entries {
		if e == room {
			return true
		}
		if prefix, ok := strings.CutSuffix(e, "*"); ok && strings.HasPrefix(room, prefix) {
			return true
		}
	}
	return false
}

// Entries returns the claim's entries (nil without a claim).
func (g RoomGrant) Entries() []string { return append([]string(nil), g.entries...) }

// roomsClaim decodes `rooms`; anything but an array of non-empty strings is an invalid
// token (an issuer bug must not turn into "every room").
type roomsClaim struct{ grant RoomGrant }

var errBadRooms = errors.New(`claim "rooms" must be an array of non-empty strings`)

func (r *roomsClaim) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return errBadRooms
	}
	var entries []string
	if err := json.Unmarshal(b, &entries); err != nil {
		return errBadRooms
	}
	for _, e := range entries {
		if e == "" {
			return errBadRooms
		}
	}
	r.grant = NewRoomGrant(entries...)
	return nil
}
