package server

import (
	"context"
	"log/slog"
)

// connLog is a connection's logger, built only when it logs: slog's With preformats its
// attributes into a handler of their own (about 1 KiB per connection, kept for the
// connection's life, for messages most connections never write).
type connLog struct {
	base  *slog.Logger
	attrs []any
}

func newConnLog(base *slog.Logger, attrs ...any) connLog { return connLog{base: base, attrs: attrs} }

// With returns the logger with more attributes.
func (l connLog) With(attrs ...any) connLog {
	return connLog{base: l.base, attrs: append(l.attrs[:len(l.attrs):len(l.attrs)], attrs...)}
}

func (l connLog) Debug(msg string, args ...any) { l.log(slog.LevelDebug, msg, args) }
func (l connLog) Info(msg string, args ...any)  { l.log(slog.LevelInfo, msg, args) }

func (l connLog) log(level slog.Level, msg string, args []any) {
	ctx := context.Background()
	if !l.base.Enabled(ctx, level) {
		return
	}
	l.base.With(l.attrs...).Log(ctx, level, msg, args...)
}
