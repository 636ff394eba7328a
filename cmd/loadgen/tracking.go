/*
Copyright 2026 The Switchboard Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

// Bookkeeping: which tracked message reached which client (a marker in every payload),
// error labels for the report, and the counts the report derives from them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

// msgTrack follows one sent message: which room positions should get it, which did.
type msgTrack struct {
	expect atomic.Uint64
	got    atomic.Uint64
}

type errCounter struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (e *errCounter) add(k string) {
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string]uint64{}
	}
	e.m[k]++
	e.mu.Unlock()
}

func (e *errCounter) snapshot() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]uint64, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}

func (e *errCounter) total() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	for _, v := range e.m {
		n += v
	}
	return n
}

// errKind shortens an error to a stable label for the report.
func errKind(err error) string {
	var ae *sioclient.AckError
	var he *sioclient.HTTPError
	var ce *sioclient.ConnectError
	switch {
	case errors.As(err, &ae):
		return "ack:" + ae.Code
	case errors.As(err, &he):
		return "http_" + strconv.Itoa(he.Status)
	case errors.As(err, &ce):
		return "connect_error:" + ce.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, sioclient.ErrClosed):
		return "closed"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection_refused"
	case strings.Contains(s, "cannot assign requested address"):
		return "no_source_port"
	case strings.Contains(s, "too many open files"):
		return "fd_limit"
	case strings.Contains(s, "timeout"):
		return "timeout"
	case strings.Contains(s, "reset by peer"):
		return "reset"
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// marker is embedded in every tracked payload: ~lg<id>.<unix-nanos>~
var markerPrefix = []byte("~lg")

func appendMarker(b []byte, id uint64, t time.Time) []byte {
	b = append(b, markerPrefix...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	return append(b, '~')
}

func parseMarker(data []byte) (id uint64, sentAt int64, ok bool) {
	i := bytes.Index(data, markerPrefix)
	if i < 0 {
		return 0, 0, false
	}
	rest := data[i+len(markerPrefix):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		id = id*10 + uint64(rest[j]-'0')
		j++
	}
	if j == 0 || j >= len(rest) || rest[j] != '.' {
		return 0, 0, false
	}
	j++
	k := j
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		sentAt = sentAt*10 + int64(rest[j]-'0')
		j++
	}
	return id, sentAt, j > k && j < len(rest) && rest[j] == '~'
}

// onEvent runs on the client's reader goroutine for every server event: it must be cheap.
func (r *runner) onEvent(cl *client) func(sioclient.Event) {
	bit := uint64(1) << uint(cl.pos%64)
	return func(ev sioclient.Event) {
		switch ev.Name {
		case "webrtc_offer", "webrtc_answer", "webrtc_ice_candidate", "chat_message":
			id, sentAt, ok := parseMarker(ev.Data)
			if !ok || id >= uint64(len(r.msgs)) {
				r.foreign.Add(1)
				return
			}
			if old := r.msgs[id].got.Or(bit); old&bit != 0 {
				r.dups.Add(1)
				return
			}
			r.received.Add(1)
			r.delivery.Record(ev.At.Sub(time.Unix(0, sentAt)))
		case "user_joined", "user_left":
			r.roomEvents.Add(1)
		case "error":
			var e struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(ev.Data, &e)
			r.serverErrs.add(e.Code)
		}
	}
}

func (r *runner) allocID(expect uint64) (uint64, bool) {
	id := r.nextID.Add(1) - 1
	if id >= uint64(len(r.msgs)) {
		r.capped.Store(true)
		return 0, false
	}
	r.msgs[id].expect.Store(expect)
	return id, true
}

func (r *runner) write(from *client, id uint64, frame []byte) {
	if err := from.c.WriteRaw(frame); err != nil {
		r.msgs[id].expect.Store(0)
		r.sendErrs.Add(1)
		return
	}
	r.sent.Add(1)
}

// expectedDeliveries counts the (message, receiver) pairs that should have arrived.
func (r *runner) expectedDeliveries() uint64 {
	n := min(r.nextID.Load(), uint64(len(r.msgs)))
	var e uint64
	for i := uint64(0); i < n; i++ {
		e += uint64(bits.OnesCount64(r.msgs[i].expect.Load()))
	}
	return e
}

func (r *runner) lost() uint64 {
	n := min(r.nextID.Load(), uint64(len(r.msgs)))
	var l uint64
	for i := uint64(0); i < n; i++ {
		m := &r.msgs[i]
		l += uint64(bits.OnesCount64(m.expect.Load() &^ m.got.Load()))
	}
	return l
}
