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
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

// TestDevModePrintsAWorkingTokenAndStopsOnSIGTERM is what `make run` promises a newcomer.
func TestDevModePrintsAWorkingTokenAndStopsOnSIGTERM(t *testing.T) {
	bin := nodetest.BuildSignaling(t)
	addr, metricsAddr := nodetest.FreeAddr(t), nodetest.FreeAddr(t)
	cmd := exec.Command(bin, "--dev", "--listen", addr, "--metrics-listen", metricsAddr)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	tokenLine := regexp.MustCompile(`^\s+alice: (\S+)$`)
	var token string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if m := tokenLine.FindStringSubmatch(sc.Text()); m != nil {
			token = m[1]
			break
		}
	}
	go func() { // keep draining so the process never blocks on stdout
		for sc.Scan() {
		}
	}()
	if token == "" {
		t.Fatal("no alice token printed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, "http://"+addr, sioclient.Options{Token: token, TokenCookie: "access_token"})
	if err != nil {
		t.Fatalf("connect with the printed token: %v", err)
	}
	if err := c.Call(ctx, "join_room", map[string]string{"roomId": "demo"}, nil); err != nil {
		t.Fatalf("join: %v", err)
	}
	expectPort(t, addr, metricsAddr, "/dev/token?user=carol", http.StatusOK, 1)

	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s to stop", d)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client still connected after the node stopped")
	}
}

// A production node serves no token mint, and its metrics only on the metrics listener.
func TestProductionNodeHasNoDevRoutesAndMetricsOnTheirOwnPort(t *testing.T) {
	bin := nodetest.BuildSignaling(t)
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, nodetest.Keys().PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, metricsAddr := nodetest.FreeAddr(t), nodetest.FreeAddr(t)
	cmd := exec.Command(bin, append(nodetest.ProcessFlags(), "--jwt-public-key", keyFile, "--listen", addr, "--metrics-listen", metricsAddr, "--log-level", "warn")...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	expectPort(t, addr, metricsAddr, "/dev/token?user=carol", http.StatusNotFound, 0)
}

// expectPort checks what the client port addr answers on devPath (with want) and on
// /metrics (404), and that the metrics port reports switchboard_dev_mode devMode.
func expectPort(t *testing.T, addr, metricsAddr, devPath string, want int, devMode int) {
	t.Helper()
	get := func(url string) (int, string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(url)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v", url, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if code, _ := get("http://" + addr + devPath); code != want {
		t.Errorf("client port %s = %d, want %d", devPath, code, want)
	}
	if code, _ := get("http://" + addr + "/metrics"); code != http.StatusNotFound {
		t.Errorf("client port /metrics = %d, want 404", code)
	}
	code, body := get("http://" + metricsAddr + "/metrics")
	if line := fmt.Sprintf("switchboard_dev_mode %d\n", devMode); code != http.StatusOK || !strings.Contains(body, line) {
		t.Errorf("metrics port /metrics = %d, want 200 with %q", code, line)
	}
}

func TestInvalidConfigurationExitsWithUsageHint(t *testing.T) {
	bin := nodetest.BuildSignaling(t)
	out, err := exec.Command(bin, "--redis-mode=ring").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("err = %v, want exit code 2", err)
	}
	for _, want := range []string{"--jwt-public-key or --jwks-url is required", "--redis-mode must be", "--help"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SIGNALING_REDIS_URL") {
		t.Fatalf("--help: %v\n%s", err, out)
	}
}
