package sfu

import (
	"context"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// Hub is what the SFU proxy needs from the node's hub: its events and hooks, the rooms'
// members, and sending to sessions and rooms. *hub.Hub implements it.
type Hub interface {
	Handle(event string, f hub.EventHandler)
	OnMemberGone(f hub.MemberGoneFunc)
	OnControl(f hub.ControlHandler)
	SetModeOverride(f func(roomID, mode string) string)
	SetJoinExtra(f hub.JoinExtraFunc)
	Members(ctx context.Context, room string) ([]presence.Member, error)
	LocalRooms() []string
	Broadcast(room, event string, payload any, except string) error
	Send(s *hub.Session, event string, payload any) error
	SendError(s *hub.Session, event string, e *vocab.Error)
}

var _ Hub = (*hub.Hub)(nil)
