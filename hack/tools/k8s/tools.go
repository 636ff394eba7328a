//go:build tools

// Package tools pins every tool of the tests that is built on Kubernetes' packages, in one module
// so that each shared package has one version and is compiled once (the Go build cache is keyed
// by the exact versions of a package and of all it imports): the one-node cluster's components
// (kubelet, kube-proxy, kube-controller-manager, kube-scheduler, kubectl, kube-apiserver, and
// etcd and CoreDNS from ./etcd and ./coredns), envtest's API server and etcd, Helm,
// controller-gen and promtool. Building them from separate modules compiled about 5,300
// packages; this module compiles about 3,300 (hack/mk/k8s-tools.mk builds them all at once).
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
