//go:build tools

// Package tools pins promtool so that bin/promtool is built from the Go module proxy. It is a
// module of its own because Prometheus' dependencies need not match the ones of the main module.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
