//go:build tools

// Package tools pins k8s.io/kubernetes so that `go build k8s.io/kubernetes/cmd/kube-apiserver`
// in this module builds the envtest API server from the Go module proxy.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
