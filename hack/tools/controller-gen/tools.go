//go:build tools

// Package tools pins controller-tools so that controller-gen is built from the Go module proxy.
package tools

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
