package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBudgetDefaultsAndEnvironment(t *testing.T) {
	c, err := Parse(prod(), env(map[string]string{
		"SIGNALING_MAX_CONNECTIONS_PER_IP": "7",
		"SIGNALING_TRUSTED_PROXIES":        "10.0.0.0/8, 192.168.1.1",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.SendQueueBytes != 4<<20 || c.JoinHistoryBytes != 64<<10 || c.ConnectTimeout != 10*time.Second ||
		c.MaxConnections != 0 || c.MaxConnectionsPerUser != 0 || c.MaxConnectionsPerIP != 7 {
		t.Fatalf("budgets = %+v", c)
	}
	ps, err := ParseCIDRs(c.TrustedProxies)
	if err != nil || len(ps) != 2 || ps[1].String() != "192.168.1.1/32" {
		t.Fatalf("trusted proxies = %v, %v", ps, err)
	}
}

func TestBudgetValidationNamesTheFlag(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"--send-queue-bytes=1000", "--send-queue-bytes"},
		{"--join-history-bytes=0", "--join-history-bytes"},
		{"--relay-target-burst=0", "--relay-target-rate and --relay-target-burst"},
		{"--join-rate=-1", "--join-rate"},
		{"--connect-timeout=0s", "--connect-timeout"},
		{"--max-connections=-1", "--max-connections"},
		{"--trusted-proxies=10.0.0.0/33", "--trusted-proxies"},
		{"--trusted-proxies=proxy.local", "--trusted-proxies"},
		{"--chat-history-rooms=0", "--chat-history-rooms"},
	} {
		_, err := Parse(prod(tc.arg), env(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to name %s", tc.arg, err, tc.want)
		}
	}
}
