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
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
	"github.com/switchboard-rtc/switchboard/controllers/clusterredis"
	"github.com/switchboard-rtc/switchboard/internal/contract"
)

// MediaVerdict is the JSON stored at contract.MediaHealthKey.
type MediaVerdict = contract.MediaVerdict

// MediaProber probes the media service's health endpoint once.
type MediaProber interface {
	// Probe returns nil when the endpoint answered 2xx within the context's deadline.
	Probe(ctx context.Context, url string) error
}

// RedisConfig is everything needed to connect to a SignalingCluster's Redis.
type RedisConfig = clusterredis.Config

// RedisConn is what the health monitor needs from Redis.
type RedisConn = clusterredis.Conn

// RedisDialer opens a RedisConn; connections are lazy, so it does not fail.
type RedisDialer func(RedisConfig) RedisConn

// httpMediaProber probes with a plain GET.
type httpMediaProber struct{ client *http.Client }

// NewHTTPMediaProber returns the production MediaProber. It connects directly (no proxy from
// the environment) and only to addresses the policy allows (probeguard.go).
func NewHTTPMediaProber(policy ProbeAddressPolicy) MediaProber {
	dialer := &net.Dialer{Timeout: 30 * time.Second, Control: policy.dialControl}
	return &httpMediaProber{client: &http.Client{
		// Each probe opens a fresh connection: a dead SFU must not hide behind a pooled socket.
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (p *httpMediaProber) Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &ProbeError{Message: fmt.Sprintf("GET %s: invalid request", url), Err: err}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return classifyProbeError(url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// classifyRedisError maps a PING error to a RedisReady reason.
func classifyRedisError(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "NOAUTH"),
		strings.Contains(msg, "invalid password"), strings.Contains(msg, "invalid username-password"):
		return v1alpha1.ReasonRedisAuthFailed
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "no such host") {
		return v1alpha1.ReasonRedisUnreachable
	}
	return v1alpha1.ReasonRedisPingFailed
}
