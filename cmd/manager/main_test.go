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

package main

import (
	"crypto/tls"
	"flag"
	"io"
	"slices"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/version"
)

func TestDefaultFlags(t *testing.T) {
	c, err := parseFlags(flag.NewFlagSet("manager", flag.ContinueOnError), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.LeaderElect {
		t.Error("leader election must be on by default")
	}
	if c.SignalingImage != DefaultSignalingImage || c.Namespace != "" || c.MetricsAddr != ":8443" || c.ProbeAddr != ":8081" {
		t.Errorf("defaults %+v", c)
	}
	o := managerOptions(c)
	if !o.LeaderElection || o.LeaderElectionID == "" || len(o.Cache.DefaultNamespaces) != 0 {
		t.Errorf("options %+v", o)
	}
}

func TestNamespaceScopeAndFlags(t *testing.T) {
	c, err := parseFlags(flag.NewFlagSet("manager", flag.ContinueOnError),
		[]string{"--namespace=rtc", "--leader-elect=false", "--signaling-image=img:2", "--metrics-bind-address=0"})
	if err != nil {
		t.Fatal(err)
	}
	o := managerOptions(c)
	if _, ok := o.Cache.DefaultNamespaces["rtc"]; !ok || len(o.Cache.DefaultNamespaces) != 1 {
		t.Errorf("cache namespaces %v, want only rtc", o.Cache.DefaultNamespaces)
	}
	if o.LeaderElection || c.SignalingImage != "img:2" || o.Metrics.BindAddress != "0" {
		t.Errorf("options %+v", o)
	}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseFlags(fs, []string{"--signaling-image="}); err == nil {
		t.Error("empty image accepted")
	}
}

func TestDefaultSignalingImageIsTheManagersRelease(t *testing.T) {
	if want := SignalingImageRepository + ":" + version.Version; DefaultSignalingImage != want {
		t.Errorf("DefaultSignalingImage = %q, want %q", DefaultSignalingImage, want)
	}
	c, err := parseFlags(flag.NewFlagSet("manager", flag.ContinueOnError), []string{"--version"})
	if err != nil || !c.PrintVersion {
		t.Errorf("--version: %+v, %v", c, err)
	}
}

// Metrics are served the kubebuilder v4 way by default: HTTPS, authn/authz filter, no HTTP/2.
func TestMetricsAreSecureByDefault(t *testing.T) {
	c, err := parseFlags(flag.NewFlagSet("manager", flag.ContinueOnError), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := managerOptions(c).Metrics
	if !m.SecureServing || m.FilterProvider == nil || m.BindAddress != ":8443" {
		t.Errorf("metrics %+v: want HTTPS with the authentication/authorization filter", m)
	}
	tc := &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	for _, f := range m.TLSOpts {
		f(tc)
	}
	if slices.Contains(tc.NextProtos, "h2") {
		t.Errorf("HTTP/2 offered by default: %v", tc.NextProtos)
	}
	c, err = parseFlags(flag.NewFlagSet("manager", flag.ContinueOnError), []string{"--enable-http2", "--metrics-secure=false"})
	if err != nil {
		t.Fatal(err)
	}
	if m := managerOptions(c).Metrics; m.SecureServing || m.FilterProvider != nil || len(m.TLSOpts) != 0 {
		t.Errorf("opted out: %+v", m)
	}
}

func TestHardeningFlags(t *testing.T) {
	c, err := parseFlags(flag.NewFlagSet("manager", flag.ContinueOnError), []string{
		"--media-probe-allowed-cidrs=127.0.0.0/8,fd00::/8", "--allowed-image-prefixes=registry.example/sb/,ghcr.io/x/",
		"--network-policies", "--operator-namespace=ops", "--operator-pod-labels=app=op,tier=control",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ProbePolicy.Allowed) != 2 || !slices.Equal(c.AllowedImagePrefixes, []string{"registry.example/sb/", "ghcr.io/x/"}) ||
		!c.NetworkPolicies.Enabled || c.NetworkPolicies.OperatorNamespace != "ops" || c.NetworkPolicies.OperatorPodLabels["tier"] != "control" {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range [][]string{{"--media-probe-allowed-cidrs=10.0.0.0/99"}, {"--operator-pod-labels=novalue"}} {
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if _, err := parseFlags(fs, bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
