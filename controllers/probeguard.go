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

// The media health probe connects wherever a SignalingCluster author points it. So that the
// operator cannot be used to reach its own node's loopback services or the cloud metadata
// endpoint (169.254.169.254), the probe's dialer refuses loopback, link-local and unspecified
// addresses unless the manager allows their range explicitly. The check runs on the address
// actually dialled, after name resolution, so a DNS name pointing at 127.0.0.1 is refused too.

package controllers

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/go-logr/logr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// ProbeAddressPolicy decides which addresses the media health probe may connect to.
type ProbeAddressPolicy struct {
	// Allowed ranges are dialled even when they are loopback or link-local (e.g. a test's
	// 127.0.0.0/8).
	Allowed []netip.Prefix
}

// ParseProbeAllowedCIDRs parses a comma-separated CIDR list (the manager flag).
func ParseProbeAllowedCIDRs(list string) (ProbeAddressPolicy, error) {
	var p ProbeAddressPolicy
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("allowed CIDR %q: %w", s, err)
		}
		p.Allowed = append(p.Allowed, prefix.Masked())
	}
	return p, nil
}

// errAddressRefused marks a dial the policy refused.
var errAddressRefused = errors.New("address refused by the probe address policy")

// check refuses loopback, link-local and unspecified addresses outside the allowed ranges.
func (p ProbeAddressPolicy) check(ip netip.Addr) error {
	ip = ip.Unmap()
	for _, prefix := range p.Allowed {
		if prefix.Contains(ip) {
			return nil
		}
	}
	if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() ||
		ip.IsInterfaceLocalMulticast() {
		return fmt.Errorf("%w: %s is loopback, link-local or unspecified", errAddressRefused, ip)
	}
	return nil
}

// dialControl is a net.Dialer Control function: it sees the resolved address of every
// connection attempt before the connect system call.
func (p ProbeAddressPolicy) dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", errAddressRefused, address)
	}
	return p.check(ap.Addr())
}

// ProbeError is a probe failure as the status shows it: a stable message that never carries
// the raw network error (which could describe the operator's own network to a
// SignalingCluster author). Err keeps the detail for the manager's log.
type ProbeError struct {
	Message string
	Err     error
}

func (e *ProbeError) Error() string { return e.Message }
func (e *ProbeError) Unwrap() error { return e.Err }

// classifyProbeError turns a failed GET into a ProbeError with a stable message.
func classifyProbeError(url string, err error) *ProbeError {
	var dnsErr *net.DNSError
	var netErr net.Error
	msg := "connection failed"
	switch {
	case errors.Is(err, errAddressRefused):
		msg = "target address not allowed (loopback or link-local; see the manager's --media-probe-allowed-cidrs)"
	case errors.As(err, &dnsErr):
		msg = "host name not resolved"
	case errors.As(err, &netErr) && netErr.Timeout():
		msg = "timeout"
	}
	return &ProbeError{Message: fmt.Sprintf("GET %s: %s", url, msg), Err: err}
}

// logProbeFailure writes a failed probe's detail to the manager's log: at info level when a
// failure streak starts (previousFailures is 0), at debug level while it lasts.
func logProbeFailure(log logr.Logger, err error, previousFailures int32) {
	if err == nil {
		return
	}
	detail := err
	if pe, ok := err.(*ProbeError); ok && pe.Err != nil {
		detail = pe.Err
	}
	if previousFailures > 0 {
		log = log.V(1)
	}
	log.Info("media health probe failed", "status", err.Error(), "detail", detail.Error())
}

// redisFailureMessage is the stable status message of a failed PING; the raw error goes to
// the manager's log only, like the media probe's.
func redisFailureMessage(reason string) string {
	switch reason {
	case v1alpha1.ReasonRedisAuthFailed:
		return "PING: Redis refused the configured credentials"
	case v1alpha1.ReasonRedisUnreachable:
		return "PING: no connection to Redis (refused, timed out or name not resolved; details in the operator's log)"
	default:
		return "PING: Redis answered with an error (details in the operator's log)"
	}
}
