package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// topLevelKeys returns the keys of one JSON object in order, duplicates included.
func topLevelKeys(line string) ([]string, error) {
	d := json.NewDecoder(strings.NewReader(line))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// TestNodeLogIsCleanJSON runs a node through start, a session and a drain, and reads its
// log as a log pipeline would: every line one JSON object, each key once per line,
// durations as text, one `stopped`.
func TestNodeLogIsCleanJSON(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	bin := nodetest.BuildSignaling(t)
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, nodetest.Keys().PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	p := &procNode{id: "logs", addr: nodetest.FreeAddr(t), stderr: logs, args: []string{
		"--redis-url", rs.URL(), "--jwt-public-key", keyFile, "--log-level", "debug",
		"--drain-timeout", "10s", "--reconnect-window", "500ms", "--drain-reconnect-jitter", "100ms",
	}}
	p.start(t, bin)
	c, err := sioclient.Dial(context.Background(), p.url(), sioclient.Options{Token: nodetest.Token(t, "alice")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	join(t, c, "r")
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("the node did not exit")
	}

	durationKeys := map[string]bool{"took": true, "spread": true, "since_sigterm": true, "since_last_probe": true}
	stopped := 0
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		lines++
		keys, err := topLevelKeys(line)
		if err != nil {
			t.Errorf("log line is not a JSON object (%v): %s", err, line)
			continue
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("key %q twice in one line: %s", k, line)
			}
			seen[k] = true
		}
		var rec map[string]any
		_ = json.Unmarshal([]byte(line), &rec)
		if rec["msg"] == "stopped" {
			stopped++
		}
		for k, v := range rec {
			if !durationKeys[k] {
				continue
			}
			s, ok := v.(string)
			if !ok {
				t.Errorf("%s = %v (%T), want a duration string: %s", k, v, v, line)
				continue
			}
			if _, err := time.ParseDuration(s); err != nil && s != "never" {
				t.Errorf("%s = %q is not a duration: %s", k, s, line)
			}
		}
	}
	if lines < 5 {
		t.Fatalf("only %d log lines:\n%s", lines, logs.String())
	}
	if stopped != 1 {
		t.Errorf("`stopped` logged %d times, want once", stopped)
	}
	if t.Failed() {
		t.Logf("node log:\n%s", logs.String())
	}
}
