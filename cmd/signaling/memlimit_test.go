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
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestMemoryLimitFollowsTheContainer(t *testing.T) {
	write := func(t *testing.T, root, rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noEnv := func(string) string { return "" }
	cases := []struct {
		name   string
		files  map[string]string
		ratio  float64
		getenv func(string) string
		want   int64
	}{
		{"cgroup v2 limit", map[string]string{"memory.max": "1073741824\n"}, 0.9, noEnv, 966367641},
		{"cgroup v2 without limit", map[string]string{"memory.max": "max\n"}, 0.9, noEnv, 0},
		{"cgroup v1 limit", map[string]string{"memory/memory.limit_in_bytes": "536870912\n"}, 0.5, noEnv, 268435456},
		{"cgroup v1 without limit", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0.9, noEnv, 0},
		{"no cgroup files", nil, 0.9, noEnv, 0},
		{"ratio 0 turns it off", map[string]string{"memory.max": "1073741824"}, 0, noEnv, 0},
		{"GOMEMLIMIT wins", map[string]string{"memory.max": "1073741824"}, 0.9,
			func(k string) string {
				if k == "GOMEMLIMIT" {
					return "500MiB"
				}
				return ""
			}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for rel, content := range c.files {
				write(t, root, rel, content)
			}
			var set int64 = -1
			got := applyMemoryLimit(c.ratio, c.getenv, root, func(v int64) int64 { set = v; return 0 }, quietLog())
			if got != c.want {
				t.Fatalf("limit = %d, want %d", got, c.want)
			}
			if c.want == 0 && set != -1 || c.want != 0 && set != c.want {
				t.Fatalf("runtime limit set to %d, want %d (-1 = not set)", set, c.want)
			}
		})
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
