// Package protocol encodes and decodes Engine.IO v4 and Socket.IO v5 packets as they
// travel in WebSocket text frames (see docs/protocol.md §Transport).
//
// An Engine.IO frame is one type digit followed by data. A Socket.IO packet rides inside
// an Engine.IO "message" frame: "4" + "2" + `["event",{…}]` = `42["event",{…}]`.
package protocol

import (
	"errors"
	"fmt"
)

// EngineType is an Engine.IO v4 packet type.
type EngineType byte

const (
	EngineOpen    EngineType = '0'
	EngineClose   EngineType = '1'
	EnginePing    EngineType = '2'
	EnginePong    EngineType = '3'
	EngineMessage EngineType = '4'
	EngineUpgrade EngineType = '5'
	EngineNoop    EngineType = '6'
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed packet")

// ParseEngine splits a WebSocket text frame into its Engine.IO type and data.
func ParseEngine(frame []byte) (EngineType, []byte, error) {
	if len(frame) == 0 {
		return 0, nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	t := EngineType(frame[0])
	if t < EngineOpen || t > EngineNoop {
		return 0, nil, fmt.Errorf("%w: unknown engine.io packet type %q", ErrMalformed, frame[0])
	}
	return t, frame[1:], nil
}

// OpenPacket is the handshake data the server sends first.
type OpenPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}
