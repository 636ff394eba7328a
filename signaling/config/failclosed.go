package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// failClosed lists the settings a production node must not start without, and what a
// --dev node must not be combined with (docs/security.md §Fail-closed configuration).
// A forgotten flag then stops the node instead of leaving a door open.
func (c Config) failClosed() []error {
	if c.Dev {
		return c.devOnlyOnLoopback()
	}
	var errs []error
	if len(c.AllowedOrigins) == 0 {
		errs = append(errs, errors.New("--allowed-origins is required outside --dev: list the web origins that may open WebSockets (e.g. https://app.example.com), or * to allow any"))
	}
	if c.JWTAudience == "" {
		errs = append(errs, errors.New("--jwt-audience is required outside --dev: the aud claim tokens for this service carry"))
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("--jwks-url must be an https:// URL outside --dev, not %q", c.JWKSURL))
		}
	}
	return errs
}

// devOnlyOnLoopback refuses a dev node that others could reach or that would share real
// infrastructure, unless --dev-unsafe says it is meant.
func (c Config) devOnlyOnLoopback() []error {
	if c.DevUnsafe {
		return nil
	}
	var errs []error
	const hint = " (add --dev-unsafe if you really mean it)"
	if c.UsesRedis() {
		errs = append(errs, errors.New("--dev does not use Redis: remove --redis-url/--redis-addrs"+hint))
	}
	for _, b := range []struct{ flag, url string }{
		{"room-service-url", c.RoomServiceURL}, {"chat-service-url", c.ChatServiceURL}, {"media-service-url", c.MediaServiceURL},
	} {
		if b.url != "" {
			errs = append(errs, fmt.Errorf("--dev does not talk to backend services: remove --%s%s", b.flag, hint))
		}
	}
	if !isLoopback(c.Listen) {
		errs = append(errs, fmt.Errorf("--dev listens on loopback only, not %q%s", c.Listen, hint))
	}
	if !isLoopback(c.MetricsListen) {
		errs = append(errs, fmt.Errorf("--dev listens on loopback only, not --metrics-listen %q%s", c.MetricsListen, hint))
	}
	return errs
}

// isLoopback reports whether a listen address binds to loopback only (":8080" binds to
// every interface).
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
