package protocol

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParsePacket(t *testing.T) {
	tests := []struct {
		in      string
		want    Packet
		wantErr bool
	}{
		{in: `0`, want: Packet{Type: Connect, Namespace: "/", ID: NoAck}},
		{in: `0{"token":"abc"}`, want: Packet{Type: Connect, Namespace: "/", ID: NoAck, Data: json.RawMessage(`{"token":"abc"}`)}},
		{in: `0/admin,{"token":"abc"}`, want: Packet{Type: Connect, Namespace: "/admin", ID: NoAck, Data: json.RawMessage(`{"token":"abc"}`)}},
		{in: `0/admin`, want: Packet{Type: Connect, Namespace: "/admin", ID: NoAck}},
		{in: `1`, want: Packet{Type: Disconnect, Namespace: "/", ID: NoAck}},
		{in: `2["join_room",{"roomId":"r1"}]`, want: Packet{Type: Event, Namespace: "/", ID: NoAck, Data: json.RawMessage(`["join_room",{"roomId":"r1"}]`)}},
		{in: `212["heartbeat"]`, want: Packet{Type: Event, Namespace: "/", ID: 12, Data: json.RawMessage(`["heartbeat"]`)}},
		{in: `2/chat,7["x"]`, want: Packet{Type: Event, Namespace: "/chat", ID: 7, Data: json.RawMessage(`["x"]`)}},
		{in: `31[{"ok":true}]`, want: Packet{Type: Ack, Namespace: "/", ID: 1, Data: json.RawMessage(`[{"ok":true}]`)}},
		{in: ``, wantErr: true},
		{in: `9`, wantErr: true},
		{in: `51-["x",{"_placeholder":true,"num":0}]`, wantErr: true}, // binary
		{in: `2`, wantErr: true},                       // event without payload
		{in: `2{"a":1}`, wantErr: true},                // event payload must be an array
		{in: `2["x"`, wantErr: true},                   // truncated JSON
		{in: `3["x"]`, wantErr: true},                  // ack without id
		{in: `299999999999999999["x"]`, wantErr: true}, // ack id overflow
		{in: `29007199254740992["x"]`, wantErr: true},  // beyond 2^53-1
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePacket([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParsePacket(%q) err = %v, want ErrMalformed", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePacket(%q): %v", tt.in, err)
			}
			if got.Type != tt.want.Type || got.Namespace != tt.want.Namespace || got.ID != tt.want.ID || string(got.Data) != string(tt.want.Data) {
				t.Fatalf("ParsePacket(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseEngine(t *testing.T) {
	typ, data, err := ParseEngine([]byte(`42["a"]`))
	if err != nil || typ != EngineMessage || string(data) != `2["a"]` {
		t.Fatalf("got %q %q %v", typ, data, err)
	}
	for _, bad := range []string{"", "7", "x"} {
		if _, _, err := ParseEngine([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseEngine(%q) err = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestParseEvent(t *testing.T) {
	name, args, err := ParseEvent(json.RawMessage(`["webrtc_offer",{"to":"u2","sdp":{"type":"offer"}},5]`))
	if err != nil || name != "webrtc_offer" || len(args) != 2 || string(args[1]) != "5" {
		t.Fatalf("got %q %v %v", name, args, err)
	}
	for _, bad := range []string{`[]`, `[1]`, `{"a":1}`, `[null]`} {
		if _, _, err := ParseEvent(json.RawMessage(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseEvent(%s) err = %v, want ErrMalformed", bad, err)
		}
	}
}

// parseEventReference is ParseEvent as the standard decoder does it (the previous
// implementation): the fast splitter must agree with it on every input.
func parseEventReference(data json.RawMessage) (string, []json.RawMessage, bool) {
	var arr []json.RawMessage
	if json.Unmarshal(data, &arr) != nil || len(arr) == 0 {
		return "", nil, false
	}
	var name string
	if len(arr[0]) == 0 || arr[0][0] != '"' || json.Unmarshal(arr[0], &name) != nil {
		return "", nil, false
	}
	return name, arr[1:], true
}

func sameEvent(t *testing.T, data string) {
	t.Helper()
	name, args, err := ParseEvent(json.RawMessage(data))
	// A packet from ParsePacket splits the same way through Packet.Event.
	if p, perr := ParsePacket([]byte("2" + data)); perr == nil && string(p.Data) == data {
		pn, pargs, pe := p.Event()
		if (pe == nil) != (err == nil) || pn != name || len(pargs) != len(args) {
			t.Fatalf("Packet.Event on %q = %q %q %v; ParseEvent = %q %q %v", data, pn, pargs, pe, name, args, err)
		}
	}
	wantName, wantArgs, ok := parseEventReference(json.RawMessage(data))
	if (err == nil) != ok {
		t.Fatalf("ParseEvent(%q) err = %v; the standard decoder accepts: %v", data, err, ok)
	}
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParseEvent(%q) err = %v, want ErrMalformed", data, err)
		}
		return
	}
	if name != wantName || len(args) != len(wantArgs) {
		t.Fatalf("ParseEvent(%q) = %q %q, want %q %q", data, name, args, wantName, wantArgs)
	}
	for i := range args {
		if string(args[i]) != string(wantArgs[i]) {
			t.Fatalf("ParseEvent(%q) arg %d = %s, want %s", data, i, args[i], wantArgs[i])
		}
	}
}

func TestParseEventAgreesWithTheStandardDecoder(t *testing.T) {
	for _, data := range []string{
		`["a"]`, ` [ "a" , 1 , "x" ] `, "[\"a\",\t{\"k\":[1,2,{\"z\":\"]}\"}]}\n,null]",
		`["a",[]]`, `["a",{}]`, `["a","with \"quotes\" and \\ and ]"]`, `["\u0061b",1]`,
		`["caf\u00e9"]`, `["café",true,false,-1.5e3]`, "[\"\xff\"]", `["a",{"to":"u2","sdp":{"type":"offer","sdp":"v=0\r\n"}}]`,
		`[]`, `[1]`, `{"a":1}`, `[null]`, `"a"`, `["a"`, `["a",]`, `["a"]x`, ``, `[`, `[[]]`, `[{"a":"b"}]`,
	} {
		sameEvent(t, data)
	}
}

// FuzzParseEvent: the splitter never panics and agrees with the standard decoder.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{`["a"]`, `["a",{"b":[1,"]"]},2]`, `[]`, `[1]`, `["\u00e9",null]`, ` ["a" ,"b"] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameEvent(t, string(b)) })
}

func TestFrames(t *testing.T) {
	if got := string(EventFrame("user_joined", json.RawMessage(`{"userId":"u1"}`))); got != `42["user_joined",{"userId":"u1"}]` {
		t.Errorf("EventFrame = %s", got)
	}
	if got := string(EventFrame("ping\"x", nil)); got != `42["ping\"x"]` {
		t.Errorf("EventFrame without payload = %s", got)
	}
	if got := string(AckFrame(42, json.RawMessage(`{"ok":true}`))); got != `4342[{"ok":true}]` {
		t.Errorf("AckFrame = %s", got)
	}
	if got := string(ConnectFrame("abc")); got != `40{"sid":"abc"}` {
		t.Errorf("ConnectFrame = %s", got)
	}
	if got := string(ConnectErrorFrame("/", "Authentication error")); got != `44{"message":"Authentication error"}` {
		t.Errorf("ConnectErrorFrame = %s", got)
	}
	if got := string(ConnectErrorFrame("/admin", "Invalid namespace")); got != `44/admin,{"message":"Invalid namespace"}` {
		t.Errorf("ConnectErrorFrame ns = %s", got)
	}
}

// TestEncodeRoundTrip checks that what Encode writes, ParsePacket reads back.
func TestEncodeRoundTrip(t *testing.T) {
	for _, p := range []Packet{
		{Type: Event, Namespace: "/", ID: NoAck, Data: json.RawMessage(`["a",1]`)},
		{Type: Event, Namespace: "/x", ID: 3, Data: json.RawMessage(`["a"]`)},
		{Type: Ack, Namespace: "/", ID: 0, Data: json.RawMessage(`[]`)},
		{Type: Connect, Namespace: "/", ID: NoAck},
	} {
		frame := p.Encode()
		typ, data, err := ParseEngine(frame)
		if err != nil || typ != EngineMessage {
			t.Fatalf("engine parse %q: %v", frame, err)
		}
		got, err := ParsePacket(data)
		if err != nil {
			t.Fatalf("parse %q: %v", frame, err)
		}
		if got.Type != p.Type || got.Namespace != p.Namespace || got.ID != p.ID || string(got.Data) != string(p.Data) {
			t.Fatalf("round trip %+v → %q → %+v", p, frame, got)
		}
	}
}

// FuzzParsePacket: the parser never panics, and whatever it accepts re-encodes to a
// packet that parses to the same thing.
func FuzzParsePacket(f *testing.F) {
	for _, s := range []string{`0`, `0{"token":"x"}`, `2["a",{"b":1}]`, `212["a"]`, `2/ns,3["x"]`, `31[{}]`, `41`, `51-["x"]`, `2[`, `0/`, `2/,["a"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		if p.Type == Event {
			_, _, _ = ParseEvent(p.Data)
		}
		again, err := ParsePacket(p.Encode()[1:])
		if err != nil {
			t.Fatalf("re-encoded packet %q does not parse: %v", p.Encode(), err)
		}
		if again.Type != p.Type || again.ID != p.ID || string(again.Data) != string(p.Data) {
			t.Fatalf("round trip changed packet: %+v vs %+v", p, again)
		}
	})
}
