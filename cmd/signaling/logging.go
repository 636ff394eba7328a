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

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/signaling/config"
)

// newLogger builds the node's logger: one JSON object per line (text with --dev),
// durations written as text ("1.2s"), each key at most once per line, and go-redis's own
// messages routed through it, so nothing else reaches the log stream.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationAsText}
	var h slog.Handler
	if cfg.Dev {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	log := slog.New(newUniqueKeys(h))
	redis.SetLogger(redisLogger{log.With("component", "go-redis")})
	return log
}

// durationAsText writes time.Duration values as Go duration strings rounded to a
// readable precision, instead of integer nanoseconds.
func durationAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(roundDuration(a.Value.Duration()).String())
	}
	return a
}

// roundDuration keeps about four significant digits: 1.087s, 3.658ms, 712µs.
func roundDuration(d time.Duration) time.Duration {
	switch a := max(d, -d); {
	case a >= time.Second:
		return d.Round(time.Millisecond)
	case a >= time.Millisecond:
		return d.Round(time.Microsecond)
	default:
		return d
	}
}

// uniqueKeys drops an attribute whose key the line already has: packages that add
// their own context (e.g. "node") under a logger that has it already would otherwise
// repeat the key, which JSON readers resolve differently. The first value wins.
type uniqueKeys struct {
	next slog.Handler
	keys map[string]bool // keys set by With at the current group level
}

func newUniqueKeys(next slog.Handler) uniqueKeys {
	return uniqueKeys{next: next, keys: map[string]bool{
		slog.TimeKey: true, slog.LevelKey: true, slog.MessageKey: true, slog.SourceKey: true,
	}}
}

func (u uniqueKeys) Enabled(ctx context.Context, l slog.Level) bool { return u.next.Enabled(ctx, l) }

func (u uniqueKeys) Handle(ctx context.Context, r slog.Record) error {
	seen := make(map[string]bool, len(u.keys)+r.NumAttrs())
	for k := range u.keys {
		seen[k] = true
	}
	dup := false
	r.Attrs(func(a slog.Attr) bool {
		if seen[a.Key] {
			dup = true
			return false
		}
		seen[a.Key] = true
		return true
	})
	if !dup {
		return u.next.Handle(ctx, r)
	}
	clean := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	clear(seen)
	for k := range u.keys {
		seen[k] = true
	}
	r.Attrs(func(a slog.Attr) bool {
		if !seen[a.Key] {
			seen[a.Key] = true
			clean.AddAttrs(a)
		}
		return true
	})
	return u.next.Handle(ctx, clean)
}

func (u uniqueKeys) WithAttrs(attrs []slog.Attr) slog.Handler {
	keys := make(map[string]bool, len(u.keys)+len(attrs))
	for k := range u.keys {
		keys[k] = true
	}
	kept := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if !keys[a.Key] {
			keys[a.Key] = true
			kept = append(kept, a)
		}
	}
	return uniqueKeys{next: u.next.WithAttrs(kept), keys: keys}
}

// WithGroup starts a new key space: keys inside the group cannot clash with those outside.
func (u uniqueKeys) WithGroup(name string) slog.Handler {
	if name == "" {
		return u
	}
	return uniqueKeys{next: u.next.WithGroup(name), keys: map[string]bool{}}
}

// redisLogger routes go-redis's internal messages (pool dial failures, reconnects) into
// the node's structured log instead of plain lines on stderr.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}
