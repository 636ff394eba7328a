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

// ParseEvent splits an EVENT packet's data into the event name and its arguments. The
// arguments are sub-slices of data (no copies).
//
// It validates data once (json.Valid) and then walks the top-level array itself: decoding
// into []json.RawMessage ran the full decoder over every relayed SDP on the node and
// again in every client.
func ParseEvent(data json.RawMessage) (name string, args []json.RawMessage, err error) {
	if !json.Valid(data) {
		return "", nil, fmt.Errorf("%w: event payload is not valid JSON", ErrMalformed)
	}
	return splitEvent(data)
}

// Event is ParseEvent for a packet from ParsePacket, whose data is already validated.
func (p Packet) Event() (name string, args []json.RawMessage, err error) {
	if p.Type != Event {
		return "", nil, fmt.Errorf("%w: not an event packet", ErrMalformed)
	}
	return splitEvent(p.Data)
}

// splitEvent does ParseEvent's work on valid JSON.
func splitEvent(data json.RawMessage) (name string, args []json.RawMessage, err error) {
	elems, ok := splitArray(data)
	if !ok {
		return "", nil, fmt.Errorf("%w: event payload must be a JSON array", ErrMalformed)
	}
	if len(elems) == 0 {
		return "", nil, fmt.Errorf("%w: event without a name", ErrMalformed)
	}
	raw := elems[0]
	if raw[0] != '"' {
		return "", nil, fmt.Errorf("%w: event name must be a string", ErrMalformed)
	}
	if plainASCII(raw) {
		name = string(raw[1 : len(raw)-1])
	} else if json.Unmarshal(raw, &name) != nil { // escapes, or UTF-8 to check
		return "", nil, fmt.Errorf("%w: event name must be a string", ErrMalformed)
	}
	return name, elems[1:], nil
}

// plainASCII: no escapes and no bytes outside ASCII, so the JSON string's bytes between
// the quotes are the string.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// splitArray returns the elements of a top-level JSON array. data must be valid JSON;
// false means it is not an array.
func splitArray(data []byte) ([]json.RawMessage, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return nil, true
	}
	var out []json.RawMessage
	for i < len(data) {
		end := skipValue(data, i)
		out = append(out, json.RawMessage(data[i:end:end]))
		i = skipSpace(data, end)
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return out, true
		default:
			return nil, false
		}
	}
	return nil, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the (valid) JSON value starting at i.
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = skipString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(data) {
			switch data[i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// skipString returns the index just past the string whose opening quote is at i.
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
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

// EventFrameOffset builds 42["name",payload,"offset"]: a recoverable event carries its
// connection-state recovery offset as its last argument (socket.io-client keeps the last
// string argument of each event as its offset). An empty offset gives EventFrame's frame.
func EventFrameOffset(name string, payload json.RawMessage, offset string) []byte {
	if offset == "" {
		return EventFrame(name, payload)
	}
	b := make([]byte, 0, 10+len(name)+len(payload)+len(offset))
	b = append(b, byte(EngineMessage), byte(Event), '[')
	b = appendJSONString(b, name)
	if payload != nil {
		b = append(b, ',')
		b = append(b, payload...)
	}
	b = append(b, ',')
	b = appendJSONString(b, offset)
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
	return ConnectFramePID(sid, "")
}

// ConnectFramePID answers a successful CONNECT of a recoverable session:
// 40{"sid":…,"pid":…} (pid "" gives ConnectFrame's frame).
func ConnectFramePID(sid, pid string) []byte {
	m := map[string]string{"sid": sid}
	if pid != "" {
		m["pid"] = pid
	}
	d, _ := json.Marshal(m)
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
