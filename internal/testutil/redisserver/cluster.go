package redisserver

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is three Redis Cluster masters (no replicas) sharing the 16384 slots.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts three cluster-enabled servers, assigns them a third of the slots
// each, joins them and waits until every node reports cluster_state:ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cl := &Cluster{}
	for i := 0; i < 3; i++ {
		cl.Nodes = append(cl.Nodes, Start(t, Options{PortOffsetFree: true, Args: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
		}}))
	}
	ranges := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	for i, n := range cl.Nodes {
		n.Do("CLUSTER", "ADDSLOTSRANGE", ranges[i][0], ranges[i][1])
	}
	for _, n := range cl.Nodes[1:] {
		cl.Nodes[0].Do("CLUSTER", "MEET", "127.0.0.1", n.Port())
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range cl.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr(), DialTimeout: time.Second})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			info, err := c.ClusterInfo(ctx).Result()
			cancel()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") {
				break
			}
			if time.Now().After(deadline) {
				_ = c.Close()
				t.Fatalf("redisserver: cluster node %s not ok within 30s: %v %s", n.Addr(), err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = c.Close()
	}
	return cl
}

// URL is the redis-cluster:// URL of the cluster.
func (cl *Cluster) URL() string {
	ports := make([]string, len(cl.Nodes))
	for i, n := range cl.Nodes {
		ports[i] = "127.0.0.1:" + strconv.Itoa(n.Port())
	}
	return "redis-cluster://" + strings.Join(ports, ",")
}
