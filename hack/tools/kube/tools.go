//go:build tools

// Package tools pins k8s.io/kubernetes so that `go build k8s.io/kubernetes/cmd/<component>` in this
// module builds the node and control-plane components of the one-node test cluster
// (hack/cluster/) from the Go module proxy: kubelet, kube-proxy, kube-controller-manager,
// kube-scheduler and kubectl. etcd and kube-apiserver come from the envtest build.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
