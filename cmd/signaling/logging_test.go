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
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/config"
)

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		d := json.NewDecoder(strings.NewReader(line))
		_, _ = d.Token()
		seen := map[string]bool{}
		for d.More() {
			k, _ := d.Token()
			if seen[k.(string)] {
				t.Fatalf("key %v twice: %s", k, line)
			}
			seen[k.(string)] = true
			var skip json.RawMessage
			_ = d.Decode(&skip)
		}
		recs = append(recs, m)
	}
	return recs
}

func TestLoggerWritesEachKeyOnceAndDurationsAsText(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(config.Config{LogLevel: "info"}, &buf)
	// A package that adds the node id again under the node's own logger.
	inner := log.With("node", "n1").With("component", "hub").With("node", "n1")
	inner.Info("drain finished", "took", 1087373*time.Nanosecond, "node", "other", "spread", 1500*time.Millisecond)
	inner.WithGroup("g").Info("grouped", "node", "inside a group is another key")
	recs := decodeLines(t, buf.String())
	if recs[0]["node"] != "n1" || recs[0]["took"] != "1.087ms" || recs[0]["spread"] != "1.5s" {
		t.Fatalf("record %v: want node n1 once, took 1.087ms, spread 1.5s", recs[0])
	}
	if g, _ := recs[1]["g"].(map[string]any); g["node"] != "inside a group is another key" {
		t.Fatalf("grouped record %v", recs[1])
	}
}

func TestGoRedisMessagesGoThroughTheLogger(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(config.Config{LogLevel: "info"}, &buf)
	redisLogger{log.With("component", "go-redis")}.Printf(context.Background(), "redis: %s failed: %v\n", "dial", "refused")
	recs := decodeLines(t, buf.String())
	if len(recs) != 1 || recs[0]["msg"] != "redis: dial failed: refused" || recs[0]["level"] != "WARN" || recs[0]["component"] != "go-redis" {
		t.Fatalf("go-redis line logged as %v", recs)
	}
}
