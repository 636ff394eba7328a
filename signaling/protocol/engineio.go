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

// RecordSeparator joins the packets of one HTTP long-polling payload (Engine.IO v4).
const RecordSeparator = '\x1e'

// EncodePayload joins packets into one long-polling payload.
func EncodePayload(packets [][]byte) []byte {
	n := len(packets)
	for _, p := range packets {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for i, p := range packets {
		if i > 0 {
			out = append(out, RecordSeparator)
		}
		out = append(out, p...)
	}
	return out
}

// DecodePayload splits a long-polling payload into its packets. The packets share
// payload's memory.
func DecodePayload(payload []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, b := range payload {
		if b == RecordSeparator {
			out = append(out, payload[start:i])
			start = i + 1
		}
	}
	return append(out, payload[start:])
}
