package sfu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/metrics"
)

// Media Service operations (the op label of the metrics).
const (
	opHealth       = "health"
	opCapabilities = "rtp_capabilities"
	opCreate       = "create_transport"
	opConnect      = "connect_transport"
	opProduce      = "produce"
	opConsume      = "consume"
	opResume       = "resume_consumer"
	opClosePeer    = "close_peer"
	opCloseProd    = "close_producer"
	opPauseProd    = "pause_producer"
	opResumeProd   = "resume_producer"
	opRestartICE   = "restart_ice"
)

// ErrMediaFailure marks a call that failed for a reason that is the Media Service's
// (5xx, refused connection, timeout, broken answer). These count towards the breaker.
var ErrMediaFailure = errors.New("media service failure")

// ClientError is a 4xx answer: the request was wrong, the service is fine.
type ClientError struct {
	Status  int
	Code    string
	Message string
}

func (e *ClientError) Error() string {
	return fmt.Sprintf("media service rejected the request (HTTP %d %s): %s", e.Status, e.Code, e.Message)
}

// MediaClient calls the Media Service's control API (docs/backends.md §Media Service).
type MediaClient struct {
	base          string
	http          *http.Client
	createTimeout time.Duration
	callTimeout   time.Duration
	m             *metrics.SFUMetrics
}

func newMediaClient(base string, hc *http.Client, createTimeout, callTimeout time.Duration, m *metrics.SFUMetrics) *MediaClient {
	return &MediaClient{base: strings.TrimRight(base, "/"), http: hc, createTimeout: createTimeout, callTimeout: callTimeout, m: m}
}

// call sends one request. out (may be nil) receives the JSON answer of a 2xx. The error
// is a *ClientError for 4xx, wraps ErrMediaFailure for failures of the service, and is
// the context's error when the caller gave up before the per-call timeout.
func (c *MediaClient) call(ctx context.Context, op, method, path string, body, out any) error {
	timeout := c.callTimeout
	if op == opCreate {
		timeout = c.createTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s request: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.observe(op, start, classifyTransport(ctx, err))
		if ctx.Err() != nil {
			return ctx.Err() // the caller went away; not the service's fault
		}
		return fmt.Errorf("%w: %s %s: %w", ErrMediaFailure, method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		c.observe(op, start, classifyTransport(ctx, err))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s %s: reading the answer: %w", ErrMediaFailure, method, path, err)
	}
	switch {
	case resp.StatusCode >= 500:
		c.observe(op, start, "server_error")
		return fmt.Errorf("%w: %s %s: HTTP %d", ErrMediaFailure, method, path, resp.StatusCode)
	case resp.StatusCode >= 400:
		c.observe(op, start, "client_error")
		ce := &ClientError{Status: resp.StatusCode}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil {
			ce.Code, ce.Message = e.Error.Code, e.Error.Message
		}
		if ce.Message == "" {
			ce.Message = fmt.Sprintf("the media service rejected the request (HTTP %d)", resp.StatusCode)
		}
		return ce
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		c.observe(op, start, "bad_response")
		return fmt.Errorf("%w: %s %s: unexpected HTTP %d", ErrMediaFailure, method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.observe(op, start, "bad_response")
			return fmt.Errorf("%w: %s %s: undecodable answer: %w", ErrMediaFailure, method, path, err)
		}
	}
	c.observe(op, start, "ok")
	return nil
}

func (c *MediaClient) observe(op string, start time.Time, outcome string) {
	if c.m == nil {
		return
	}
	c.m.MediaCalls.WithLabelValues(op, outcome).Inc()
	c.m.MediaLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func classifyTransport(parent context.Context, err error) string {
	var ne net.Error
	switch {
	case parent.Err() != nil:
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	default:
		return "server_error"
	}
}

func roomPath(room string) string { return "/rooms/" + url.PathEscape(room) }

// The answers of the Media Service. Media parameters stay opaque JSON.
type (
	capabilitiesAnswer struct {
		RTPCapabilities json.RawMessage `json:"rtpCapabilities"`
	}
	transportAnswer struct {
		ID             string          `json:"id"`
		ICEParameters  json.RawMessage `json:"iceParameters"`
		ICECandidates  json.RawMessage `json:"iceCandidates"`
		DTLSParameters json.RawMessage `json:"dtlsParameters"`
	}
	producerAnswer struct {
		ID string `json:"id"`
	}
	restartICEAnswer struct {
		ICEParameters json.RawMessage `json:"iceParameters"`
	}
	consumerAnswer struct {
		ID            string          `json:"id"`
		ProducerID    string          `json:"producerId"`
		Kind          string          `json:"kind"`
		RTPParameters json.RawMessage `json:"rtpParameters"`
	}
)

// Health asks GET /health; nil means 200 {"status":"ok"}.
func (c *MediaClient) Health(ctx context.Context) error {
	var a struct {
		Status string `json:"status"`
	}
	if err := c.call(ctx, opHealth, http.MethodGet, "/health", nil, &a); err != nil {
		return err
	}
	if a.Status != "ok" {
		return fmt.Errorf("%w: /health says status %q", ErrMediaFailure, a.Status)
	}
	return nil
}

func (c *MediaClient) Capabilities(ctx context.Context, room string) (capabilitiesAnswer, error) {
	var a capabilitiesAnswer
	err := c.call(ctx, opCapabilities, http.MethodGet, roomPath(room)+"/rtp-capabilities", nil, &a)
	return a, err
}

func (c *MediaClient) CreateTransport(ctx context.Context, room, peer, direction string) (transportAnswer, error) {
	var a transportAnswer
	err := c.call(ctx, opCreate, http.MethodPost, roomPath(room)+"/transports",
		map[string]string{"peerId": peer, "direction": direction}, &a)
	if err == nil && a.ID == "" {
		err = fmt.Errorf("%w: create transport: answer without id", ErrMediaFailure)
	}
	return a, err
}

func (c *MediaClient) ConnectTransport(ctx context.Context, room, transport string, dtls json.RawMessage) error {
	return c.call(ctx, opConnect, http.MethodPost, roomPath(room)+"/transports/"+url.PathEscape(transport)+"/connect",
		map[string]json.RawMessage{"dtlsParameters": dtls}, nil)
}

func (c *MediaClient) Produce(ctx context.Context, room, transport, kind string, rtp, appData json.RawMessage) (producerAnswer, error) {
	var a producerAnswer
	body := struct {
		Kind          string          `json:"kind"`
		RTPParameters json.RawMessage `json:"rtpParameters"`
		AppData       json.RawMessage `json:"appData,omitempty"`
	}{kind, rtp, appData}
	err := c.call(ctx, opProduce, http.MethodPost, roomPath(room)+"/transports/"+url.PathEscape(transport)+"/producers", body, &a)
	if err == nil && a.ID == "" {
		err = fmt.Errorf("%w: produce: answer without id", ErrMediaFailure)
	}
	return a, err
}

func (c *MediaClient) Consume(ctx context.Context, room, transport, producer string, caps json.RawMessage) (consumerAnswer, error) {
	var a consumerAnswer
	body := struct {
		ProducerID      string          `json:"producerId"`
		RTPCapabilities json.RawMessage `json:"rtpCapabilities"`
	}{producer, caps}
	err := c.call(ctx, opConsume, http.MethodPost, roomPath(room)+"/transports/"+url.PathEscape(transport)+"/consumers", body, &a)
	if err == nil && a.ID == "" {
		err = fmt.Errorf("%w: consume: answer without id", ErrMediaFailure)
	}
	return a, err
}

func (c *MediaClient) ResumeConsumer(ctx context.Context, room, consumer string) error {
	return c.call(ctx, opResume, http.MethodPost, roomPath(room)+"/consumers/"+url.PathEscape(consumer)+"/resume", nil, nil)
}

func (c *MediaClient) ClosePeer(ctx context.Context, room, peer string) error {
	return c.call(ctx, opClosePeer, http.MethodDelete, roomPath(room)+"/peers/"+url.PathEscape(peer), nil, nil)
}

func producerPath(room, producer string) string {
	return roomPath(room) + "/producers/" + url.PathEscape(producer)
}

func (c *MediaClient) CloseProducer(ctx context.Context, room, producer string) error {
	return c.call(ctx, opCloseProd, http.MethodDelete, producerPath(room, producer), nil, nil)
}

func (c *MediaClient) PauseProducer(ctx context.Context, room, producer string) error {
	return c.call(ctx, opPauseProd, http.MethodPost, producerPath(room, producer)+"/pause", nil, nil)
}

func (c *MediaClient) ResumeProducer(ctx context.Context, room, producer string) error {
	return c.call(ctx, opResumeProd, http.MethodPost, producerPath(room, producer)+"/resume", nil, nil)
}

func (c *MediaClient) RestartICE(ctx context.Context, room, transport string) (restartICEAnswer, error) {
	var a restartICEAnswer
	err := c.call(ctx, opRestartICE, http.MethodPost, roomPath(room)+"/transports/"+url.PathEscape(transport)+"/restart-ice", nil, &a)
	if err == nil && (len(a.ICEParameters) == 0 || string(a.ICEParameters) == "null") {
		err = fmt.Errorf("%w: restart ice: answer without iceParameters", ErrMediaFailure)
	}
	return a, err
}
