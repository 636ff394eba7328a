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
}

func parseFlags(fs *flag.FlagSet, args []string) (config, error) {
	var c config
	fs.StringVar(&c.SignalingImage, "signaling-image", DefaultSignalingImage, "image of the signaling node when a SignalingCluster sets no spec.image")
	fs.StringVar(&c.RedisImage, "redis-image", DefaultRedisImage, "image of managed Redis instances (spec.redis.managed)")
	fs.BoolVar(&c.LeaderElect, "leader-elect", true, "elect a leader so that only one manager replica reconciles and probes")
	fs.StringVar(&c.LeaderElectionID, "leader-election-id", "switchboard-operator.signaling.switchboard.dev", "name of the leader-election Lease")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the manager's own namespace)")
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	fs.StringVar(&c.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.StringVar(&c.Namespace, "namespace", "", "watch only this namespace (default: all namespaces)")
	fs.IntVar(&c.MaxConcurrentReconciles, "max-concurrent-reconciles", 4, "SignalingClusters reconciled in parallel")
	fs.BoolVar(&c.PrintVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
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
		Options:                 controllers.Options{SignalingImage: c.SignalingImage, RedisImage: c.RedisImage},
		MaxConcurrentReconciles: c.MaxConcurrentReconciles,
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
