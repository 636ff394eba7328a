package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// PacketType is a Socket.IO v5 packet type.
type PacketType byte

const (
	Connect      PacketType = '0'
	Disconnect   PacketType = '1'
	Event        PacketType = '2'
	Ack          PacketType = '3'
	ConnectError PacketType = '4'
	BinaryEvent  PacketType = '5'
	BinaryAck    PacketType = '6'
)

// NoAck marks a packet without an acknowledgement id.
const NoAck int64 = -1

// maxAckID keeps ack ids within what JavaScript numbers represent exactly.
const maxAckID = 1<<53 - 1

// Packet is a decoded Socket.IO packet.
type Packet struct {
	Type      PacketType
	Namespace string // "/" when absent on the wire
	ID        int64  // NoAck when absent
	Data      json.RawMessage
}

// ParsePacket decodes a Socket.IO packet (the data of an Engine.IO message frame).
// Binary packets are rejected: this server speaks text only.
func ParsePacket(b []byte) (Packet, error) {
	p := Packet{Namespace: "/", ID: NoAck}
	if len(b) == 0 {
		return p, fmt.Errorf("%w: empty socket.io packet", ErrMalformed)
	}
	p.Type = PacketType(b[0])
	switch p.Type {
	case Connect, Disconnect, Event, Ack, ConnectError:
	case BinaryEvent, BinaryAck:
		return p, fmt.Errorf("%w: binary packets are not supported", ErrMalformed)
	default:
		return p, fmt.Errorf("%w: unknown socket.io packet type %q", ErrMalformed, b[0])
	}
	rest := b[1:]
	if len(rest) > 0 && rest[0] == '/' {
		i := bytes.IndexByte(rest, ',')
		if i < 0 {
			// "0/admin" with no payload is a valid CONNECT to a namespace.
			p.Namespace, rest = string(rest), nil
		} else {
			p.Namespace, rest = string(rest[:i]), rest[i+1:]
		}
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n > 0 {
		if n > 16 {
			return p, fmt.Errorf("%w: ack id too long", ErrMalformed)
		}
		id, _ := strconv.ParseInt(string(rest[:n]), 10, 64)
		if id > maxAckID {
			return p, fmt.Errorf("%w: ack id out of range", ErrMalformed)
		}
		p.ID, rest = id, rest[n:]
	}
	if len(rest) > 0 {
		if !json.Valid(rest) {
			return p, fmt.Errorf("%w: payload is not valid JSON", ErrMalformed)
		}
		p.Data = rest
	}
	switch p.Type {
	case Event:
		if len(p.Data) == 0 || p.Data[0] != '[' {
			return p, fmt.Errorf("%w: event payload must be a JSON array", ErrMalformed)
		}
	case Ack:
		if p.ID == NoAck {
			return p, fmt.Errorf("%w: ack without id", ErrMalformed)
		}
	}
	return p, nil
}

// ParseEvent splits an EVENT packet's data into the event name and its arguments.
func ParseEvent(data json.RawMessage) (name string, args []json.RawMessage, err error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return "", nil, fmt.Errorf("%w: event payload: %v", ErrMalformed, err)
	}
	if len(arr) == 0 {
		return "", nil, fmt.Errorf("%w: event without a name", ErrMalformed)
	}
	if len(arr[0]) == 0 || arr[0][0] != '"' || json.Unmarshal(arr[0], &name) != nil {
		return "", nil, fmt.Errorf("%w: event name must be a string", ErrMalformed)
	}
	return name, arr[1:], nil
}

// EventFrame builds the complete WebSocket frame for a server→client event:
// 42["name",payload]. payload is already-encoded JSON (nil means no argument).
// The frame is built once and can be sent to many sockets.
func EventFrame(name string, payload json.RawMessage) []byte {
	b := make([]byte, 0, 6+len(name)+len(payload))
	b = append(b, byte(EngineMessage), byte(Event), '[')
	b = appendJSONString(b, name)
	if payload != nil {
		b = append(b, ',')
		b = append(b, payload...)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string exactly as json.Marshal writes it. Event
// names are plain ASCII, so the common case is a copy between quotes (json.Marshal cost
// three allocations per frame on the fan-out path).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AckFrame builds the frame answering the client's ack id: 43<id>[payload].
func AckFrame(id int64, payload json.RawMessage) []byte {
	b := make([]byte, 0, 24+len(payload))
	b = append(b, byte(EngineMessage), byte(Ack))
	b = strconv.AppendInt(b, id, 10)
	b = append(b, '[')
	b = append(b, payload...)
	return append(b, ']')
}

// ConnectFrame answers a successful CONNECT: 40{"sid":…}.
func ConnectFrame(sid string) []byte {
	d, _ := json.Marshal(map[string]string{"sid": sid})
	return append([]byte{byte(EngineMessage), byte(Connect)}, d...)
}

// ConnectErrorFrame refuses a CONNECT: 44{"message":…}, for namespace ns ("/" omitted).
func ConnectErrorFrame(ns, message string) []byte {
	d, _ := json.Marshal(map[string]string{"message": message})
	b := []byte{byte(EngineMessage), byte(ConnectError)}
	if ns != "" && ns != "/" {
		b = append(b, ns...)
		b = append(b, ',')
	}
	return append(b, d...)
}

// Encode renders a packet as an Engine.IO message frame (used by clients and tests).
func (p Packet) Encode() []byte {
	b := []byte{byte(EngineMessage), byte(p.Type)}
	if p.Namespace != "" && p.Namespace != "/" {
		b = append(b, p.Namespace...)
		b = append(b, ',')
	}
	if p.ID != NoAck {
		b = strconv.AppendInt(b, p.ID, 10)
	}
	return append(b, p.Data...)
}
