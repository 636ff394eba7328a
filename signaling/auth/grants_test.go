package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRoomGrantMatching(t *testing.T) {
	g := NewRoomGrant("lobby", "team-42-*")
	for room, want := range map[string]bool{
		"lobby": true, "lobby2": false, "team-42-": true, "team-42-standup": true,
		"team-4": false, "team-43-x": false, "*": false,
	} {
		if got := g.Allows(room); got != want {
			t.Errorf("%v.Allows(%q) = %v, want %v", g.Entries(), room, got, want)
		}
	}
	if !NewRoomGrant("*").Allows("anything at all") {
		t.Error(`"*" must grant every room`)
	}
	if NewRoomGrant().Allows("lobby") || !NewRoomGrant().Present() {
		t.Error("an empty claim is present and grants nothing")
	}
	if (RoomGrant{}).Present() || (RoomGrant{}).Allows("lobby") {
		t.Error("no claim is not present and grants nothing by itself")
	}
}

func TestVerifyReadsRoomsAndJTI(t *testing.T) {
	v, err := NewVerifier(Config{PublicKey: &testKeys.Private.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	id, err := v.Verify(sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{
		"sub": "u1", "exp": exp, "jti": "tok-1", "rooms": []any{"a", "team-*"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !id.Rooms.Present() || !id.Rooms.Allows("team-x") || id.Rooms.Allows("b") || id.TokenID != "tok-1" {
		t.Fatalf("identity = %+v", id)
	}
	id, err = v.Verify(sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": "u1", "exp": exp}))
	if err != nil || id.Rooms.Present() {
		t.Fatalf("no claim: %+v, %v", id, err)
	}
	// A malformed claim must not widen access: the token is refused.
	for _, bad := range []any{"*", nil, []any{1}, []any{""}, map[string]any{"a": 1}} {
		tok := sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": "u1", "exp": exp, "rooms": bad})
		if _, err := v.Verify(tok); err == nil {
			t.Errorf("rooms = %#v accepted", bad)
		}
	}
}
