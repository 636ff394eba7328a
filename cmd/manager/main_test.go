package main

import (
	"flag"
	"io"
	"testing"
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
