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

// The traffic phase: paced senders for relay and chat, heartbeats, churn.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// scenario runs the traffic phase for --duration, then waits --drain for deliveries.
func (r *runner) scenario(ctx context.Context) {
	expected := 0.0
	switch r.cfg.Scenario {
	case scRelay, scChurn:
		expected = r.cfg.Rate * r.cfg.Duration.Seconds()
	case scChat:
		expected = r.cfg.Rate * float64(len(r.rooms)) * r.cfg.Duration.Seconds()
	}
	if r.cfg.Scenario == scRelay || r.cfg.Scenario == scChat {
		r.msgs = make([]msgTrack, int(expected*1.02)+1024)
	}
	runCtx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	r.runStart = time.Now()
	if ps, err := sampleProc(os.Getpid()); err == nil {
		r.cpuStart = ps.CPU
	}
	var wg sync.WaitGroup
	if r.cfg.Heartbeat > 0 {
		for _, cl := range r.clients {
			if cl.c != nil {
				wg.Add(1)
				go func() { defer wg.Done(); r.heartbeats(runCtx, cl) }()
			}
		}
	}
	var lastSent, lastRecv uint64
	lastT := time.Now()
	stopProgress := r.progress(r.cfg.Scenario, func() string {
		now := time.Now()
		s, rc := r.sent.Load(), r.received.Load()
		dt := now.Sub(lastT).Seconds()
		line := fmt.Sprintf("held %d/%d sent %d (%.0f/s) recv %d (%.0f/s) p99 %.2fms", r.held(), len(r.clients),
			s, float64(s-lastSent)/dt, rc, float64(rc-lastRecv)/dt, ms(r.delivery.Quantile(0.99)))
		lastSent, lastRecv, lastT = s, rc, now
		if r.cfg.Heartbeat > 0 {
			line += fmt.Sprintf(" | hb %d acked %d p99 %.2fms", r.hbSent.Load(), r.hbAcked.Load(), ms(r.hbLat.Quantile(0.99)))
		}
		if r.cfg.Scenario == scChurn {
			line += fmt.Sprintf(" | churn %d failed %d join p99 %.2fms", r.churnCycles.Load(), r.churnFailed.Load(), ms(r.churnJoin.Quantile(0.99)))
		}
		if n := r.serverErrs.total(); n > 0 {
			line += fmt.Sprintf(" | server errors %d", n)
		}
		return line
	})
	workers := max(1, r.cfg.Workers)
	switch r.cfg.Scenario {
	case scRelay:
		r.paced(runCtx, &wg, workers, r.cfg.Rate, r.relaySenders(), r.sendRelay)
	case scChat:
		r.paced(runCtx, &wg, workers, r.cfg.Rate*float64(len(r.rooms)), r.chatSenders(), r.sendChat)
	case scChurn:
		r.churn(runCtx, &wg, workers)
	}
	<-runCtx.Done()
	wg.Wait()
	r.runEnd = time.Now()
	if ps, err := sampleProc(os.Getpid()); err == nil {
		r.cpuEnd = ps.CPU
	}
	// Let what is in flight arrive; stop early once nothing is missing.
	drainEnd := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(drainEnd) {
		if r.received.Load()+r.dups.Load() >= r.expectedDeliveries() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopProgress()
}

// heartbeats sends `heartbeat` with an ack every --heartbeat (first one at a random
// offset, so the load is spread) and records the ack latency.
func (r *runner) heartbeats(ctx context.Context, cl *client) {
	first := time.Duration(rand.Int64N(int64(r.cfg.Heartbeat)))
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-cl.c.Done():
			return
		case <-t.C:
		}
		t.Reset(r.cfg.Heartbeat)
		if cl.busy.Load() {
			continue
		}
		r.hbSent.Add(1)
		hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t0 := time.Now()
		err := cl.c.Call(hctx, "heartbeat", nil, nil)
		cancel()
		if err != nil {
			r.hbFailed.Add(1)
			r.serverErrs.add("heartbeat:" + errKind(err))
			continue
		}
		r.hbAcked.Add(1)
		r.hbLat.Record(time.Since(t0))
	}
}

// sendSlot is one stream of tracked messages: a relay direction or a chat room.
type sendSlot struct {
	from  *client
	to    *client   // relay target
	room  []*client // chat members
	turn  int       // chat: next sender position; relay: offer/ICE alternation
	frame []byte
}

func (r *runner) relaySenders() []*sendSlot {
	var out []*sendSlot
	for _, room := range r.rooms {
		for i := 0; i+1 < len(room); i += 2 {
			a, b := room[i], room[i+1]
			if a.in.Load() && b.in.Load() {
				out = append(out, &sendSlot{from: a, to: b}, &sendSlot{from: b, to: a})
			}
		}
	}
	return out
}

func (r *runner) chatSenders() []*sendSlot {
	var out []*sendSlot
	for _, room := range r.rooms {
		var in []*client
		for _, cl := range room {
			if cl.in.Load() {
				in = append(in, cl)
			}
		}
		if len(in) > 0 {
			out = append(out, &sendSlot{room: in})
		}
	}
	return out
}

// paced spreads slots over workers; each worker sends at rate/workers, round-robin
// over its slots, until ctx ends or the message table is full.
func (r *runner) paced(ctx context.Context, wg *sync.WaitGroup, workers int, rate float64, slots []*sendSlot, send func(*sendSlot) bool) {
	if len(slots) == 0 || rate <= 0 {
		r.logf("loadgen: nothing to send (no complete pairs/rooms or --rate 0)")
		return
	}
	workers = min(workers, len(slots))
	for w := 0; w < workers; w++ {
		var mine []*sendSlot
		for i := w; i < len(slots); i += workers {
			mine = append(mine, slots[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			per := rate / float64(workers)
			t0 := time.Now()
			done, next := 0, 0
			for ctx.Err() == nil {
				due := int(time.Since(t0).Seconds() * per)
				for ; done < due && ctx.Err() == nil; done++ {
					s := mine[next%len(mine)]
					next++
					if !send(s) {
						return
					}
				}
				// Sleep until the next message is due (at least 1 ms).
				wait := time.Until(t0.Add(time.Duration(float64(done+1) / per * float64(time.Second))))
				select {
				case <-ctx.Done():
				case <-time.After(max(wait, time.Millisecond)):
				}
			}
		}()
	}
}

func (r *runner) pad(b []byte) []byte {
	for i := 0; i < r.cfg.PayloadBytes; i++ {
		b = append(b, 'x')
	}
	return b
}

func (r *runner) sendRelay(s *sendSlot) bool {
	id, ok := r.allocID(uint64(1) << uint(s.to.pos%64))
	if !ok {
		return false
	}
	b := s.frame[:0]
	to, _ := json.Marshal(s.to.user)
	if s.turn%2 == 0 {
		b = append(b, `42["webrtc_offer",{"to":`...)
		b = append(b, to...)
		b = append(b, `,"sdp":{"type":"offer","sdp":"`...)
		b = appendMarker(b, id, time.Now())
		b = r.pad(b)
		b = append(b, `"}}]`...)
	} else {
		b = append(b, `42["webrtc_ice_candidate",{"to":`...)
		b = append(b, to...)
		b = append(b, `,"candidate":{"candidate":"`...)
		b = appendMarker(b, id, time.Now())
		b = r.pad(b)
		b = append(b, `","sdpMid":"0","sdpMLineIndex":0}}]`...)
	}
	s.turn++
	s.frame = b
	r.write(s.from, id, b)
	return true
}

func (r *runner) sendChat(s *sendSlot) bool {
	var mask uint64
	for _, m := range s.room {
		mask |= uint64(1) << uint(m.pos%64)
	}
	id, ok := r.allocID(mask)
	if !ok {
		return false
	}
	from := s.room[s.turn%len(s.room)]
	s.turn++
	b := append(s.frame[:0], `42["chat_message",{"content":"`...)
	b = appendMarker(b, id, time.Now())
	b = r.pad(b)
	b = append(b, `"}]`...)
	s.frame = b
	r.write(from, id, b)
	return true
}

// churn runs leave_room + join_room cycles at --rate per second over all clients.
func (r *runner) churn(ctx context.Context, wg *sync.WaitGroup, workers int) {
	var pool []*client
	for _, cl := range r.clients {
		if cl.in.Load() {
			pool = append(pool, cl)
		}
	}
	if len(pool) == 0 || r.cfg.Rate <= 0 {
		return
	}
	sem := make(chan struct{}, 512)
	slots := make([]*sendSlot, 0, len(pool))
	for _, cl := range pool {
		slots = append(slots, &sendSlot{from: cl})
	}
	r.paced(ctx, wg, workers, r.cfg.Rate, slots, func(s *sendSlot) bool {
		cl := s.from
		if !cl.busy.CompareAndSwap(false, true) {
			return true // still cycling: skip this turn
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			cl.busy.Store(false)
			return false
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem; cl.busy.Store(false) }()
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			t0 := time.Now()
			if err := cl.c.Call(cctx, "leave_room", map[string]string{}, nil); err != nil {
				r.churnFailed.Add(1)
				r.serverErrs.add("leave:" + errKind(err))
				return
			}
			r.churnLeave.Record(time.Since(t0))
			t1 := time.Now()
			if err := cl.c.Call(cctx, "join_room", map[string]string{"roomId": r.roomID(cl.room)}, nil); err != nil {
				r.churnFailed.Add(1)
				cl.in.Store(false)
				r.serverErrs.add("join:" + errKind(err))
				return
			}
			r.churnJoin.Record(time.Since(t1))
			r.churnCycles.Add(1)
		}()
		return true
	})
}
