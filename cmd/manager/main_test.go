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
	"flag"
	"io"
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
	if c.SignalingImage != DefaultSignalingImage || c.Namespace != "" || c.MetricsAddr != ":8080" || c.ProbeAddr != ":8081" {
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
