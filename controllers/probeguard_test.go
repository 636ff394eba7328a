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

package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

func TestMediaProbeRefusesLoopbackAndLinkLocalTargets(t *testing.T) {
	var hitCount atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hitCount.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().String()[strings.LastIndex(srv.Listener.Addr().String(), ":")+1:]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	strict := NewHTTPMediaProber(ProbeAddressPolicy{})
	for _, url := range []string{
		srv.URL + "/health",                             // 127.0.0.1
		"http://localhost:" + port + "/health",          // a name resolving to loopback
		"http://[::1]:" + port + "/health",              // IPv6 loopback
		"http://169.254.169.254/latest/meta-data/",      // cloud metadata, link-local
		"http://0.0.0.0:" + port + "/health",            // unspecified reaches the local host
		"http://[::ffff:127.0.0.1]:" + port + "/health", // IPv4-mapped loopback
	} {
		err := strict.Probe(ctx, url)
		var pe *ProbeError
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, "target address not allowed") {
			t.Errorf("%s: %v, want a refusal", url, err)
		}
	}
	if n := hitCount.Load(); n != 0 {
		t.Errorf("the refused probes reached the server %d times", n)
	}

	allowed, err := ParseProbeAllowedCIDRs("127.0.0.0/8, ::1/128")
	if err != nil {
		t.Fatal(err)
	}
	if err := NewHTTPMediaProber(allowed).Probe(ctx, srv.URL+"/health"); err != nil || hitCount.Load() != 1 {
		t.Errorf("allowed loopback: %v (hits %d)", err, hitCount.Load())
	}
	if _, err := ParseProbeAllowedCIDRs("10.0.0.0/33"); err == nil {
		t.Error("an invalid CIDR was accepted")
	}
}

// The status gets a stable message; the raw network error stays in the wrapped detail (logged).
func TestMediaProbeErrorsAreStableMessages(t *testing.T) {
	allowed, _ := ParseProbeAllowedCIDRs("127.0.0.0/8")
	p := NewHTTPMediaProber(allowed)
	ctx := context.Background()
	closed := fmt.Sprintf("http://127.0.0.1:%d/health", freePort(t))
	err := p.Probe(ctx, closed)
	if err == nil || err.Error() != "GET "+closed+": connection failed" {
		t.Fatalf("closed port: %q", err)
	}
	if !strings.Contains(errors.Unwrap(err).Error(), "refused") {
		t.Errorf("the detail for the log lost the cause: %v", errors.Unwrap(err))
	}

	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(time.Second) }))
	defer slow.Close()
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := p.Probe(tctx, slow.URL); err == nil || err.Error() != "GET "+slow.URL+": timeout" {
		t.Errorf("slow server: %q", err)
	}
}

func TestRedisFailureMessagesCarryNoRawError(t *testing.T) {
	for _, reason := range []string{v1alpha1.ReasonRedisAuthFailed, v1alpha1.ReasonRedisUnreachable, v1alpha1.ReasonRedisPingFailed} {
		msg := redisFailureMessage(reason)
		if !strings.HasPrefix(msg, "PING: ") || strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "dial tcp") {
			t.Errorf("%s: %q", reason, msg)
		}
	}
}

func TestImagePolicy(t *testing.T) {
	prefixes := ParseImagePrefixes(" registry.example.com/sb/ ,ghcr.io/switchboard-rtc/,")
	for image, want := range map[string]bool{
		"registry.example.com/sb/signaling:v1":       true,
		"ghcr.io/switchboard-rtc/signaling@sha256:1": true,
		"registry.example.com/other/signaling:v1":    false,
		"docker.io/evil/signaling:v1":                false,
	} {
		if got := imageAllowed(image, prefixes); got != want {
			t.Errorf("%s: allowed=%v, want %v", image, got, want)
		}
	}
	if !imageAllowed("anything:1", nil) {
		t.Error("no prefixes must allow every image")
	}
}
