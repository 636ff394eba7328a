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
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
)

// cgroupRoot is where the container's own cgroup is mounted (cgroup namespaces, as on
// Kubernetes nodes).
const cgroupRoot = "/sys/fs/cgroup"

// applyMemoryLimit gives the Go runtime a soft memory limit of ratio × the container's
// memory limit, unless GOMEMLIMIT is set, ratio is 0, or there is no limit. Without it
// the GC only paces itself by heap growth (GOGC), and a node near its container limit is
// OOM-killed — dropping every call on it — instead of collecting harder first. It returns
// the limit it set (0 for none).
func applyMemoryLimit(ratio float64, getenv func(string) string, root string, set func(int64) int64, log *slog.Logger) int64 {
	if ratio <= 0 || getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit, source := containerMemoryLimit(root)
	if limit <= 0 {
		return 0
	}
	soft := int64(float64(limit) * ratio)
	set(soft)
	log.Info("Go memory limit set from the container's", "container_limit_bytes", limit, "go_limit_bytes", soft, "source", source)
	return soft
}

// containerMemoryLimit reads the cgroup v2 (memory.max) or v1 (memory.limit_in_bytes)
// limit; 0 when there is none.
func containerMemoryLimit(root string) (int64, string) {
	for _, f := range []string{filepath.Join(root, "memory.max"), filepath.Join(root, "memory", "memory.limit_in_bytes")} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v := string(bytes.TrimSpace(b))
		if v == "max" {
			return 0, f
		}
		n, err := strconv.ParseInt(v, 10, 64)
		// cgroup v1 writes "no limit" as a huge page-rounded number.
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, f
		}
		return n, f
	}
	return 0, ""
}
