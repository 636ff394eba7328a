package redisserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the Sentinel topology monitors.
const MasterName = "switchboard"

// Sentinel is one master, one replica and three sentinels, all local processes.
type Sentinel struct {
	t         testing.TB
	Master    *Server // the initial master
	Replica   *Server // the initial replica
	Sentinels []*Server
}

// StartSentinel starts the topology and waits until every sentinel knows the replica and
// the other sentinels, so a failover can be carried out at once.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	master := Start(t, Options{})
	replica := Start(t, Options{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port())}})
	st := &Sentinel{t: t, Master: master, Replica: replica}
	for i := 0; i < 3; i++ {
		conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 2000\n"+
			"sentinel failover-timeout %s 10000\n"+
			"sentinel parallel-syncs %s 1\n", MasterName, master.Port(), MasterName, MasterName, MasterName)
		st.Sentinels = append(st.Sentinels, Start(t, Options{Sentinel: true, Config: conf}))
	}
	st.waitDiscovery()
	return st
}

// Addrs are the sentinel addresses.
func (st *Sentinel) Addrs() []string {
	out := make([]string, len(st.Sentinels))
	for i, s := range st.Sentinels {
		out[i] = s.Addr()
	}
	return out
}

// URL is the redis-sentinel:// URL of the topology.
func (st *Sentinel) URL() string {
	return "redis-sentinel://" + strings.Join(st.Addrs(), ",") + "/" + MasterName
}

func (st *Sentinel) waitDiscovery() {
	st.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range st.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			replicas, err1 := c.Replicas(ctx, MasterName).Result()
			sentinels, err2 := c.Sentinels(ctx, MasterName).Result()
			cancel()
			ok := err1 == nil && err2 == nil && len(sentinels) >= 2 && len(replicas) >= 1 && replicaUp(replicas)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				_ = c.Close()
				st.t.Fatalf("redisserver: sentinel %s did not discover the topology (replicas=%v sentinels=%d, errs %v %v)", s.Addr(), replicas, len(sentinels), err1, err2)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = c.Close()
	}
}

func replicaUp(replicas []map[string]string) bool {
	for _, r := range replicas {
		if !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") && r["master-link-status"] == "ok" {
			return true
		}
	}
	return false
}

// MasterAddr asks the first sentinel that answers for the current master address.
func (st *Sentinel) MasterAddr() string {
	st.t.Helper()
	for _, s := range st.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addr, err := c.GetMasterAddrByName(ctx, MasterName).Result()
		cancel()
		_ = c.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1])
		}
	}
	st.t.Fatalf("redisserver: no sentinel reports a master")
	return ""
}

// Failover runs SENTINEL FAILOVER and waits until every sentinel reports the new master
// and the new master answers ROLE as master. It returns the new master address.
func (st *Sentinel) Failover() string {
	st.t.Helper()
	old := st.MasterAddr()
	st.Sentinels[0].Do("SENTINEL", "FAILOVER", MasterName)
	deadline := time.Now().Add(60 * time.Second)
	for {
		agreed := true
		var addr string
		for _, s := range st.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			a, err := c.GetMasterAddrByName(ctx, MasterName).Result()
			cancel()
			_ = c.Close()
			if err != nil || len(a) != 2 || net.JoinHostPort(a[0], a[1]) == old {
				agreed = false
				break
			}
			addr = net.JoinHostPort(a[0], a[1])
		}
		if agreed && roleIs(addr, "master") {
			return addr
		}
		if time.Now().After(deadline) {
			st.t.Fatalf("redisserver: failover from %s did not complete within 60s", old)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func roleIs(addr, role string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := c.Do(ctx, "ROLE").Slice()
	return err == nil && len(v) > 0 && v[0] == role
}
