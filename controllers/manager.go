/*
Copyright 2026 The Switchboard Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

import (
	"crypto/tls"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// NewScheme returns a scheme with the built-in kinds and the SignalingCluster API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// ManagerConfig is the part of the manager's command line that shapes ctrl.Options.
type ManagerConfig struct {
	// Namespace restricts the watches to one namespace; empty watches all.
	Namespace               string
	MetricsAddr             string
	ProbeAddr               string
	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// MetricsSecure serves metrics over HTTPS to authenticated, authorized callers only.
	MetricsSecure bool
	// MetricsCertDir holds tls.crt and tls.key; empty: a self-signed certificate.
	MetricsCertDir string
	// EnableHTTP2 allows HTTP/2 on the metrics endpoint.
	EnableHTTP2 bool
}

// ManagerOptions returns the manager options shared by cmd/manager and the tests. Owned kinds
// are cached only when they carry the operator's managed-by label, so the cache does not hold
// every Deployment, Service and ConfigMap of the cluster. Secrets are cached only when they carry
// the opt-in label signaling.switchboard.dev/use=true (secrets.go).
func ManagerOptions(c ManagerConfig) ctrl.Options {
	owned := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{labelManagedBy: ManagedByValue})}
	cacheOpts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:                     owned,
			&corev1.Service{}:                        owned,
			&corev1.ConfigMap{}:                      owned,
			&corev1.PersistentVolumeClaim{}:          owned,
			&networkingv1.NetworkPolicy{}:            owned,
			&policyv1.PodDisruptionBudget{}:          owned,
			&autoscalingv2.HorizontalPodAutoscaler{}: owned,
			&corev1.Secret{}:                         secretCacheSelector(),
		},
	}
	if c.Namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{c.Namespace: {}}
	}
	return ctrl.Options{
		Scheme:                        NewScheme(),
		Cache:                         cacheOpts,
		Metrics:                       metricsOptions(c),
		HealthProbeBindAddress:        c.ProbeAddr,
		LeaderElection:                c.LeaderElect,
		LeaderElectionID:              c.LeaderElectionID,
		LeaderElectionNamespace:       c.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	}
}

// metricsOptions serves metrics the kubebuilder v4 way: HTTPS, every request authenticated with
// a TokenReview and authorized with a SubjectAccessReview for GET /metrics (the
// metrics-reader ClusterRole grants it), and HTTP/1.1 only unless HTTP/2 is asked for.
func metricsOptions(c ManagerConfig) metricsserver.Options {
	o := metricsserver.Options{BindAddress: c.MetricsAddr, SecureServing: c.MetricsSecure}
	if !c.EnableHTTP2 {
		o.TLSOpts = append(o.TLSOpts, func(tc *tls.Config) { tc.NextProtos = []string{"http/1.1"} })
	}
	if c.MetricsSecure {
		o.FilterProvider = filters.WithAuthenticationAndAuthorization
		if c.MetricsCertDir != "" {
			o.CertDir, o.CertName, o.KeyName = c.MetricsCertDir, "tls.crt", "tls.key"
		}
	}
	return o
}
