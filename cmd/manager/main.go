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

// Command manager runs the Switchboard operator: the SignalingCluster controller and the
// media-service health gate.
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/switchboard-rtc/switchboard/controllers"
	"github.com/switchboard-rtc/switchboard/internal/version"
)

// SignalingImageRepository is where the signaling node images are published.
const SignalingImageRepository = "ghcr.io/switchboard-rtc/signaling"

// DefaultSignalingImage is used for SignalingClusters without spec.image: the signaling node of
// the manager's own release (the version is linked in by the Makefile; "dev" otherwise).
var DefaultSignalingImage = SignalingImageRepository + ":" + version.Version

// DefaultRedisImage runs managed Redis instances.
const DefaultRedisImage = "redis:7.4-alpine"

// config is the manager's command line.
type config struct {
	SignalingImage          string
	RedisImage              string
	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	MetricsAddr             string
	ProbeAddr               string
	Namespace               string
	MaxConcurrentReconciles int
	PrintVersion            bool
	MetricsSecure           bool
	MetricsCertDir          string
	EnableHTTP2             bool
	ProbePolicy             controllers.ProbeAddressPolicy
	AllowedImagePrefixes    []string
	NetworkPolicies         controllers.NetworkPolicyOptions
}

func parseFlags(fs *flag.FlagSet, args []string) (config, error) {
	var c config
	fs.StringVar(&c.SignalingImage, "signaling-image", DefaultSignalingImage, "image of the signaling node when a SignalingCluster sets no spec.image")
	fs.StringVar(&c.RedisImage, "redis-image", DefaultRedisImage, "image of managed Redis instances (spec.redis.managed)")
	fs.BoolVar(&c.LeaderElect, "leader-elect", true, "elect a leader so that only one manager replica reconciles and probes")
	fs.StringVar(&c.LeaderElectionID, "leader-election-id", "switchboard-operator.signaling.switchboard.dev", "name of the leader-election Lease")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the manager's own namespace)")
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8443", "address of the Prometheus metrics endpoint (HTTPS unless --metrics-secure=false); 0 disables it")
	fs.StringVar(&c.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.StringVar(&c.Namespace, "namespace", "", "watch only this namespace (default: all namespaces)")
	fs.IntVar(&c.MaxConcurrentReconciles, "max-concurrent-reconciles", 4, "SignalingClusters reconciled in parallel")
	fs.BoolVar(&c.PrintVersion, "version", false, "print the version and exit")
	fs.BoolVar(&c.MetricsSecure, "metrics-secure", true, "serve metrics over HTTPS, only to callers whose token may GET /metrics (TokenReview + SubjectAccessReview)")
	fs.StringVar(&c.MetricsCertDir, "metrics-cert-dir", "", "directory with tls.crt and tls.key for the metrics endpoint (default: a self-signed certificate)")
	fs.BoolVar(&c.EnableHTTP2, "enable-http2", false, "allow HTTP/2 on the metrics endpoint (off: avoids the HTTP/2 rapid-reset and stream-cancellation attacks)")
	probeCIDRs := fs.String("media-probe-allowed-cidrs", "", "comma-separated CIDRs the media health probe may reach even though they are loopback or link-local (refused by default)")
	imagePrefixes := fs.String("allowed-image-prefixes", "", "comma-separated prefixes spec.image must start with, e.g. registry.example.com/switchboard/ (default: any image)")
	fs.BoolVar(&c.NetworkPolicies.Enabled, "network-policies", false, "create NetworkPolicies: signaling pods accept only the client and metrics ports, the managed Redis only the cluster's signaling pods and the operator")
	fs.StringVar(&c.NetworkPolicies.OperatorNamespace, "operator-namespace", os.Getenv("POD_NAMESPACE"), "the operator's namespace, for the managed Redis' NetworkPolicy (default: $POD_NAMESPACE)")
	operatorLabels := fs.String("operator-pod-labels", "", "labels of the operator's pods (k=v,k2=v2), admitted to the managed Redis by its NetworkPolicy")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.NetworkPolicies.OperatorPodLabels, err = controllers.ParseLabels(*operatorLabels); err != nil {
		return c, fmt.Errorf("--operator-pod-labels: %w", err)
	}
	if c.ProbePolicy, err = controllers.ParseProbeAllowedCIDRs(*probeCIDRs); err != nil {
		return c, fmt.Errorf("--media-probe-allowed-cidrs: %w", err)
	}
	c.AllowedImagePrefixes = controllers.ParseImagePrefixes(*imagePrefixes)
	if c.SignalingImage == "" {
		return c, fmt.Errorf("--signaling-image must not be empty")
	}
	if c.MaxConcurrentReconciles < 1 {
		return c, fmt.Errorf("--max-concurrent-reconciles must be at least 1")
	}
	return c, nil
}

// managerOptions turns the command line into controller-runtime manager options.
func managerOptions(c config) ctrl.Options {
	return controllers.ManagerOptions(controllers.ManagerConfig{
		Namespace:               c.Namespace,
		MetricsAddr:             c.MetricsAddr,
		ProbeAddr:               c.ProbeAddr,
		LeaderElect:             c.LeaderElect,
		LeaderElectionID:        c.LeaderElectionID,
		LeaderElectionNamespace: c.LeaderElectionNamespace,
		MetricsSecure:           c.MetricsSecure,
		MetricsCertDir:          c.MetricsCertDir,
		EnableHTTP2:             c.EnableHTTP2,
	})
}

func main() {
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	c, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if c.PrintVersion {
		fmt.Println(version.String("manager"))
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	metrics.Registry.MustRegister(version.BuildInfo()) // served with controller-runtime's metrics

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), managerOptions(c))
	if err != nil {
		log.Error(err, "creating manager")
		os.Exit(1)
	}
	if _, err := controllers.SetupWithManager(mgr, controllers.SetupConfig{
		Options: controllers.Options{
			SignalingImage: c.SignalingImage, RedisImage: c.RedisImage, AllowedImagePrefixes: c.AllowedImagePrefixes,
			NetworkPolicies: c.NetworkPolicies,
		},
		MaxConcurrentReconciles: c.MaxConcurrentReconciles,
		ProbePolicy:             c.ProbePolicy,
		Metrics:                 controllers.NewClusterMetrics(metrics.Registry),
	}); err != nil {
		log.Error(err, "setting up the SignalingCluster controller")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "adding health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "adding ready check")
		os.Exit(1)
	}
	log.Info("starting manager", "version", version.Version, "revision", version.Revision, "namespace", c.Namespace, "leaderElection", c.LeaderElect, "signalingImage", c.SignalingImage)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager exited")
		os.Exit(1)
	}
}
