// Package sioclient is a small Socket.IO v5 client over WebSocket, built on the
// project's codec. Tests and the load generator use it; frontends use socket.io-client.
package sioclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// Options configure Dial.
type Options struct {
	Token       string // sent as CONNECT auth {"token":…} unless TokenCookie/TokenHeader is set
	TokenCookie string // cookie name to carry Token instead (e.g. "access_token")
	TokenHeader bool   // carry Token as Authorization: Bearer
	Origin      string
	Namespace   string        // default "/"
	NoPong      bool          // do not answer pings (tests of the ping timeout)
	Buffer      int           // events buffered before Dial's reader blocks, default 1024
	Dialer      *net.Dialer   // e.g. with a LocalAddr to spread source addresses
	Timeout     time.Duration // handshake timeout, default 10 s
	// OnEvent, when set, receives every server event on the reader goroutine instead
	// of the Events channel (lower overhead for load generation).
	OnEvent func(Event)
}

// Event is one server→client event.
type Event struct {
	Name string
	Data json.RawMessage // first argument, nil when none
	At   time.Time       // receive time
}

// ConnectError is the server's CONNECT_ERROR.
type ConnectError struct{ Message string }

func (e *ConnectError) Error() string { return "connect_error: " + e.Message }

// Client is one connected Socket.IO client.
type Client struct {
	ws     *websocket.Conn
	SID    string
	Open   protocol.OpenPacket
	Events chan Event

	opts    Options
	writeMu sync.Mutex
	mu      sync.Mutex
	nextAck int64
	acks    map[int64]chan json.RawMessage
	done    chan struct{}
	err     error
	closeMu sync.Once
}

// Dial connects to base (http://host:port) and completes the Socket.IO handshake.
func Dial(ctx context.Context, base string, o Options) (*Client, error) {
	if o.Namespace == "" {
		o.Namespace = "/"
	}
	if o.Buffer <= 0 {
		o.Buffer = 1024
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/socket.io/"
	u.RawQuery = "EIO=4&transport=websocket"
	hdr := http.Header{}
	if o.Origin != "" {
		hdr.Set("Origin", o.Origin)
	}
	if o.Token != "" && o.TokenCookie != "" {
		hdr.Set("Cookie", o.TokenCookie+"="+o.Token)
	}
	if o.Token != "" && o.TokenHeader {
		hdr.Set("Authorization", "Bearer "+o.Token)
	}
	d := websocket.Dialer{HandshakeTimeout: o.Timeout, ReadBufferSize: 1024, WriteBufferSize: 1024}
	if o.Dialer != nil {
		d.NetDialContext = o.Dialer.DialContext
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, u.String(), hdr)
	if err != nil {
		if resp != nil {
			return nil, &HTTPError{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Err: err}
		}
		return nil, err
	}
	c := &Client{ws: ws, opts: o, acks: map[int64]chan json.RawMessage{}, done: make(chan struct{}), Events: make(chan Event, o.Buffer)}
	_ = ws.SetReadDeadline(time.Now().Add(o.Timeout))
	if err := c.handshake(); err != nil {
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// HTTPError is a refused upgrade.
type HTTPError struct {
	Status     int
	RetryAfter string
	Err        error
}

func (e *HTTPError) Error() string { return fmt.Sprintf("upgrade refused: HTTP %d", e.Status) }

func (c *Client) handshake() error {
	_, frame, err := c.ws.ReadMessage()
	if err != nil {
		return fmt.Errorf("read open packet: %w", err)
	}
	typ, data, err := protocol.ParseEngine(frame)
	if err != nil || typ != protocol.EngineOpen {
		return fmt.Errorf("expected open packet, got %q", frame)
	}
	if err := json.Unmarshal(data, &c.Open); err != nil {
		return err
	}
	var auth json.RawMessage
	if c.opts.Token != "" && c.opts.TokenCookie == "" && !c.opts.TokenHeader {
		auth, _ = json.Marshal(map[string]string{"token": c.opts.Token})
	}
	if err := c.write(protocol.Packet{Type: protocol.Connect, Namespace: c.opts.Namespace, ID: protocol.NoAck, Data: auth}.Encode()); err != nil {
		return err
	}
	for {
		_, frame, err := c.ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("read connect answer: %w", err)
		}
		typ, data, err := protocol.ParseEngine(frame)
		if err != nil {
			return err
		}
		if typ == protocol.EnginePing {
			_ = c.write([]byte{byte(protocol.EnginePong)})
			continue
		}
		p, err := protocol.ParsePacket(data)
		if err != nil {
			return err
		}
		switch p.Type {
		case protocol.Connect:
			var sid struct {
				SID string `json:"sid"`
			}
			_ = json.Unmarshal(p.Data, &sid)
			c.SID = sid.SID
			return nil
		case protocol.ConnectError:
			var ce ConnectError
			_ = json.Unmarshal(p.Data, &ce)
			return &ce
		}
	}
}

func (c *Client) write(frame []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// WriteRaw sends a raw WebSocket text frame (tests of malformed input).
func (c *Client) WriteRaw(frame []byte) error { return c.write(frame) }

// WriteBinary sends a binary frame (tests).
func (c *Client) WriteBinary(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (c *Client) readLoop() {
	defer c.shutdown(nil)
	for {
		_, frame, err := c.ws.ReadMessage()
		if err != nil {
			c.shutdown(err)
			return
		}
		now := time.Now()
		typ, data, err := protocol.ParseEngine(frame)
		if err != nil {
			continue
		}
		switch typ {
		case protocol.EnginePing:
			if !c.opts.NoPong {
				_ = c.write([]byte{byte(protocol.EnginePong)})
			}
			continue
		case protocol.EngineClose:
			return
		case protocol.EngineMessage:
		default:
			continue
		}
		p, err := protocol.ParsePacket(data)
		if err != nil {
			continue
		}
		switch p.Type {
		case protocol.Event:
			name, args, err := p.Event()
			if err != nil {
				continue
			}
			ev := Event{Name: name, At: now}
			if len(args) > 0 {
				ev.Data = args[0]
			}
			if c.opts.OnEvent != nil {
				c.opts.OnEvent(ev)
			} else {
				select {
				case c.Events <- ev:
				case <-c.done:
					return
				}
			}
		case protocol.Ack:
			var args []json.RawMessage
			_ = json.Unmarshal(p.Data, &args)
			c.mu.Lock()
			ch := c.acks[p.ID]
			delete(c.acks, p.ID)
			c.mu.Unlock()
			if ch != nil {
				var first json.RawMessage
				if len(args) > 0 {
					first = args[0]
				}
				ch <- first
			}
		case protocol.Disconnect:
			return
		}
	}
}

func (c *Client) shutdown(err error) {
	c.closeMu.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
		c.ws.Close()
	})
}

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while open or after Close).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the WebSocket abruptly (like a dropped network connection).
func (c *Client) Close() { c.shutdown(nil) }

// Disconnect sends a Socket.IO DISCONNECT (a deliberate leave), then closes.
func (c *Client) Disconnect() {
	_ = c.write(protocol.Packet{Type: protocol.Disconnect, Namespace: c.opts.Namespace, ID: protocol.NoAck}.Encode())
	c.shutdown(nil)
}

func eventData(event string, payload any) (json.RawMessage, error) {
	name, _ := json.Marshal(event)
	parts := []json.RawMessage{name}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, err
		}
		parts = append(parts, b)
	}
	return json.Marshal(parts)
}

// Emit sends an event without an ack.
func (c *Client) Emit(event string, payload any) error {
	data, err := eventData(event, payload)
	if err != nil {
		return err
	}
	return c.write(protocol.Packet{Type: protocol.Event, Namespace: c.opts.Namespace, ID: protocol.NoAck, Data: data}.Encode())
}

// ErrClosed is returned for calls on a closed connection.
var ErrClosed = errors.New("connection closed")

// Request sends an event with an ack and waits for the ack's first argument.
func (c *Client) Request(ctx context.Context, event string, payload any) (json.RawMessage, error) {
	data, err := eventData(event, payload)
	if err != nil {
		return nil, err
	}
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.write(protocol.Packet{Type: protocol.Event, Namespace: c.opts.Namespace, ID: id, Data: data}.Encode()); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Ack is the common shape of acks.
type Ack struct {
	OK    bool `json:"ok"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Call is Request followed by decoding the ack into out (which may be nil); an ack with
// ok:false becomes an *AckError.
func (c *Client) Call(ctx context.Context, event string, payload any, out any) error {
	raw, err := c.Request(ctx, event, payload)
	if err != nil {
		return err
	}
	var a Ack
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("decode ack %s: %w", raw, err)
	}
	if !a.OK {
		if a.Error == nil {
			return fmt.Errorf("ack without ok: %s", raw)
		}
		return &AckError{Code: a.Error.Code, Message: a.Error.Message}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// AckError is an {ok:false} ack.
type AckError struct{ Code, Message string }

func (e *AckError) Error() string { return e.Code + ": " + e.Message }

// Next waits for the next event named name, skipping others; it returns ok=false on
// timeout or close.
func (c *Client) Next(ctx context.Context, name string) (Event, bool) {
	for {
		select {
		case ev := <-c.Events:
			if ev.Name == name {
				return ev, true
			}
		case <-ctx.Done():
			return Event{}, false
		case <-c.done:
			// Drain what arrived before the close.
			for {
				select {
				case ev := <-c.Events:
					if ev.Name == name {
						return ev, true
					}
				default:
					return Event{}, false
				}
			}
		}
	}
}
