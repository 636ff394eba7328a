package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// validateBudgets checks the byte budgets, rate limits and connection caps.
func (c Config) validateBudgets() []error {
	var errs []error
	// A join ack or a relayed event must fit in an empty send queue with room to spare,
	// or an honest client would be disconnected as a slow consumer.
	if c.SendQueueBytes < 2*c.MaxEventBytes || c.SendQueueBytes < 2*c.JoinHistoryBytes {
		errs = append(errs, errors.New("--send-queue-bytes must be at least twice --max-event-bytes and twice --join-history-bytes"))
	}
	if c.JoinHistoryBytes <= 0 {
		errs = append(errs, errors.New("--join-history-bytes must be positive"))
	}
	for _, r := range []struct {
		name  string
		rate  float64
		burst int
	}{{"join", c.JoinRate, c.JoinBurst}, {"relay", c.RelayRate, c.RelayBurst}, {"relay-target", c.RelayTargetRate, c.RelayTargetBurst}} {
		if r.rate <= 0 || r.burst <= 0 {
			errs = append(errs, fmt.Errorf("--%s-rate and --%s-burst must be positive", r.name, r.name))
		}
	}
	if c.ChatHistoryRooms <= 0 {
		errs = append(errs, errors.New("--chat-history-rooms must be positive"))
	}
	if c.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("--connect-timeout must be positive"))
	}
	if c.MaxConnections < 0 || c.MaxConnectionsPerUser < 0 || c.MaxConnectionsPerIP < 0 {
		errs = append(errs, errors.New("--max-connections, --max-connections-per-user and --max-connections-per-ip must not be negative (0 = unlimited)"))
	}
	if _, err := ParseCIDRs(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
	}
	return errs
}

// ParseCIDRs parses --trusted-proxies: CIDRs, or single addresses (a /32 or /128).
func ParseCIDRs(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %v", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
