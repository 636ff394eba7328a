package protocol

import (
	"encoding/json"
	"testing"
)

// Typical frames of the hot paths: a relayed offer (~1 KB of SDP) and a chat message.
var (
	benchOffer = []byte(`2["webrtc_offer",{"to":"user-42","sdp":{"type":"offer","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\na=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendrecv\r\na=rtpmap:96 VP8/90000\r\n"}}]`)
	benchChat  = []byte(`217["chat_message",{"content":"hello everyone, this is a chat message of typical length"}]`)
)

func BenchmarkParsePacketOffer(b *testing.B) {
	b.SetBytes(int64(len(benchOffer)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePacket(benchOffer); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePacketChat(b *testing.B) {
	b.SetBytes(int64(len(benchChat)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePacket(benchChat); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEventOffer(b *testing.B) {
	p, err := ParsePacket(benchOffer)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(p.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseEvent(p.Data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeOffer is the whole server-side decode of one client frame.
func BenchmarkDecodeOffer(b *testing.B) {
	frame := append([]byte{'4'}, benchOffer...)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		_, data, err := ParseEngine(frame)
		if err != nil {
			b.Fatal(err)
		}
		p, err := ParsePacket(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ParseEvent(p.Data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventFrameChat(b *testing.B) {
	payload := json.RawMessage(`{"id":"0190d2a4-7b7e-7c3a-9a57-3e1f2b4c5d6e","roomId":"room-1","senderId":"user-1","senderName":"User One","content":"hello everyone, this is a chat message of typical length","timestamp":1720000000000}`)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		_ = EventFrame("chat_message", payload)
	}
}

func BenchmarkAckFrame(b *testing.B) {
	payload := json.RawMessage(`{"ok":true}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = AckFrame(123456, payload)
	}
}

func BenchmarkPacketEncode(b *testing.B) {
	p := Packet{Type: Event, Namespace: "/", ID: 17, Data: json.RawMessage(benchChat[3:])}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Encode()
	}
}

// TestEventFrameNameEncoding: the event name fast path writes what json.Marshal writes.
func TestEventFrameNameEncoding(t *testing.T) {
	for _, name := range []string{"chat_message", "user-joined.v2", "a<b>&c", "quote\"d", "back\\slash", "tab\there", "ünïcode", "\u2028", ""} {
		q, _ := json.Marshal(name)
		want := "42[" + string(q) + ",{}]"
		if got := string(EventFrame(name, json.RawMessage(`{}`))); got != want {
			t.Errorf("EventFrame(%q) = %s, want %s", name, got, want)
		}
	}
}
