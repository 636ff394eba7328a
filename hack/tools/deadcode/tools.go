//go:build tools

// Package tools pins golang.org/x/tools so that `make lint` builds deadcode from the Go module proxy.
package tools

import _ "golang.org/x/tools/cmd/deadcode"
