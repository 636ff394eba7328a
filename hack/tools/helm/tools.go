//go:build tools

// Package tools pins Helm so that bin/helm is built from the Go module proxy. It is a module of
// its own because Helm's Kubernetes dependencies need not match the ones of the main module.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
