package server

import (
	"net/http"
	"time"
)

// HTTPTimeouts bound what a client can hold open on the client port without sending a
// request. Upgraded WebSockets are not affected (net/http lets go of them).
type HTTPTimeouts struct {
	// ReadHeader: a request's headers must arrive within this (default 5 s), so a client
	// trickling header bytes cannot hold a connection and its goroutine.
	ReadHeader time.Duration
	// Idle: a keep-alive connection between requests is closed after this (default 60 s).
	Idle time.Duration
}

// NewHTTPServer is the http.Server for the client port.
func NewHTTPServer(h http.Handler, t HTTPTimeouts) *http.Server {
	if t.ReadHeader <= 0 {
		t.ReadHeader = 5 * time.Second
	}
	if t.Idle <= 0 {
		t.Idle = 60 * time.Second
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, IdleTimeout: t.Idle, MaxHeaderBytes: 64 << 10}
}
