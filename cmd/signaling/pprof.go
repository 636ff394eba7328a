//go:build pprof

// Profiling-only build (go build -tags pprof): serves net/http/pprof on
// $SIGNALING_PPROF_ADDR (e.g. 127.0.0.1:9080) for hack/bench.sh --pprof.
// Release builds never include this file.
package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("SIGNALING_PPROF_ADDR")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, http.DefaultServeMux); err != nil {
			slog.Error("pprof listener failed", "addr", addr, "err", err)
		}
	}()
}
