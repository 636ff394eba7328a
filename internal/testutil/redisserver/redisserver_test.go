package redisserver

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestServerKillRestartKeepsPortAndAOFData(t *testing.T) {
	s := Start(t, Options{AOF: true})
	if s.Port() == 6379 {
		t.Fatal("must never use 6379")
	}
	s.Do("SET", "k", "v")
	s.Kill()
	if s.Running() {
		t.Fatal("still running after Kill")
	}
	s.Restart()
	if got := s.Do("GET", "k"); got != "v" {
		t.Fatalf("after restart with AOF: GET k = %v, want v", got)
	}
}

func TestServerPauseStopsAnswering(t *testing.T) {
	s := Start(t, Options{})
	c := s.Client()
	s.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := c.Ping(ctx).Err()
	cancel()
	if err == nil {
		t.Fatal("a paused server answered PING")
	}
	s.Resume()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("after resume: %v", err)
	}
}

func TestClusterServesAllSlots(t *testing.T) {
	cl := StartCluster(t)
	for _, n := range cl.Nodes {
		if info := n.Do("CLUSTER", "INFO").(string); !strings.Contains(info, "cluster_slots_assigned:16384") {
			t.Fatalf("slots not all assigned: %s", info)
		}
	}
}

func TestSentinelFailoverMovesTheMaster(t *testing.T) {
	st := StartSentinel(t)
	before := st.MasterAddr()
	after := st.Failover()
	if after == before {
		t.Fatalf("master still %s after failover", before)
	}
}
