//go:build tools

// Package tools pins staticcheck so that `make lint` builds it from the Go module proxy.
package tools

import _ "honnef.co/go/tools/cmd/staticcheck"
