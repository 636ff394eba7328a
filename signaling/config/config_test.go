package config

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// prod are the flags a production node cannot start without.
func prod(more ...string) []string {
	return append([]string{"--jwt-public-key=/k.pem", "--allowed-origins=https://app.example", "--jwt-audience=switchboard"}, more...)
}

func TestDefaults(t *testing.T) {
	c, err := Parse(prod(), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.JWTCookie != "access_token" || c.ReconnectWindow != 5*time.Second ||
		c.PresenceTTL != 30*time.Second || c.DrainTimeout != 30*time.Second || c.MaxEventBytes != 64<<10 ||
		c.DefaultRoomMode != "p2p" || c.UsesRedis() || c.Demo {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestEnvironmentAndFlagPrecedence(t *testing.T) {
	e := env(map[string]string{
		"SIGNALING_LISTEN":           ":9000",
		"SIGNALING_REDIS_URL":        "redis://127.0.0.1:7000/0",
		"SIGNALING_ALLOWED_ORIGINS":  "https://a.example, https://b.example",
		"SIGNALING_RECONNECT_WINDOW": "7s",
		"SIGNALING_JWT_PUBLIC_KEY":   "/env.pem",
		"SIGNALING_JWT_AUDIENCE":     "switchboard",
	})
	c, err := Parse([]string{"--listen=:9100"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9100" {
		t.Errorf("flag should win over env: %s", c.Listen)
	}
	if c.RedisURL != "redis://127.0.0.1:7000/0" || !c.UsesRedis() || c.ReconnectWindow != 7*time.Second || c.JWTPublicKey != "/env.pem" {
		t.Errorf("env not applied: %+v", c)
	}
	if strings.Join(c.AllowedOrigins, "|") != "https://a.example|https://b.example" {
		t.Errorf("origins = %q", c.AllowedOrigins)
	}
}

func TestDevTurnsDemoOn(t *testing.T) {
	c, err := Parse([]string{"--dev"}, env(nil), &bytes.Buffer{})
	if err != nil || !c.Demo {
		t.Fatalf("--dev: demo=%v err=%v", c.Demo, err)
	}
	c, err = Parse([]string{"--dev", "--demo=false"}, env(nil), &bytes.Buffer{})
	if err != nil || c.Demo {
		t.Fatalf("--dev --demo=false: demo=%v err=%v", c.Demo, err)
	}
}

func TestValidationErrorsNameTheFlag(t *testing.T) {
	cases := map[string][]string{
		"--jwt-public-key or --jwks-url is required": {},
		"--redis-mode must be":                       {"--dev", "--redis-mode=ring"},
		"--default-room-mode must be":                {"--dev", "--default-room-mode=mesh"},
		"--reconnect-window must be positive":        {"--dev", "--reconnect-window=0s"},
		"--log-level must be":                        {"--dev", "--log-level=loud"},
		"--redis-mode=sentinel needs":                {"--dev", "--redis-mode=sentinel", "--redis-addrs=127.0.0.1:26379"},
		"--max-event-bytes must be":                  {"--dev", "--max-event-bytes=2000000"},
	}
	for want, args := range cases {
		_, err := Parse(args, env(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err = %v, want %q", args, err, want)
		}
	}
	if _, err := Parse([]string{"--dev"}, env(map[string]string{"SIGNALING_PRESENCE_TTL": "soon"}), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "SIGNALING_PRESENCE_TTL") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestHelpListsEveryFlagWithItsEnvironmentVariable(t *testing.T) {
	var out bytes.Buffer
	_, err := Parse([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range []string{"listen", "node-id", "jwt-public-key", "jwt-cookie", "jwt-issuer", "jwt-audience", "allowed-origins",
		"redis-url", "room-service-url", "chat-service-url", "media-service-url", "default-room-mode", "max-room-size",
		"reconnect-window", "presence-ttl", "drain-timeout", "log-level", "dev"} {
		if !strings.Contains(out.String(), "--"+f+"  ["+EnvName(f)+"]") {
			t.Errorf("--help lacks --%s [%s]", f, EnvName(f))
		}
	}
}

func TestSFUFlags(t *testing.T) {
	c, err := Parse(prod(), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MediaBreakerThreshold != 5 || c.MediaHealthInterval != 2*time.Second || c.P2PFallbackMaxParticipants != 3 ||
		c.MediaCreateTimeout != 5*time.Second || c.MediaCallTimeout != 3*time.Second {
		t.Fatalf("sfu defaults = %+v", c)
	}
	c, err = Parse(prod("--media-breaker-threshold=2", "--p2p-fallback-max-participants=0"),
		env(map[string]string{"SIGNALING_MEDIA_HEALTH_INTERVAL": "250ms"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MediaBreakerThreshold != 2 || c.MediaHealthInterval != 250*time.Millisecond || c.P2PFallbackMaxParticipants != 0 {
		t.Fatalf("sfu flags = %+v", c)
	}
	for _, bad := range []string{"--media-breaker-threshold=0", "--media-health-interval=0s", "--p2p-fallback-max-participants=-1", "--media-call-timeout=0s"} {
		_, err := Parse(prod(bad), env(nil), &bytes.Buffer{})
		name := strings.SplitN(strings.TrimPrefix(bad, "--"), "=", 2)[0]
		if err == nil || !strings.Contains(err.Error(), "--"+name) {
			t.Errorf("%s: err = %v, want one naming --%s", bad, err, name)
		}
	}
}

func TestChatFlags(t *testing.T) {
	c, err := Parse(prod(), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ChatHistory != 50 || c.ChatRate != 10 || c.ChatBurst != 20 || c.ChatBufferRoom != 10000 || c.ChatBufferTotal != 100000 ||
		c.ChatBatchSize != 500 || c.ChatFlushInterval != 100*time.Millisecond || c.ChatClaimIdle != 0 || c.ChatHistoryTTL != 24*time.Hour {
		t.Fatalf("chat defaults = %+v", c)
	}
	c, err = Parse(prod("--chat-buffer-room=5", "--chat-rate=2.5"),
		env(map[string]string{"SIGNALING_CHAT_FLUSH_INTERVAL": "1s", "SIGNALING_CHAT_BUFFER_TOTAL": "50"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ChatBufferRoom != 5 || c.ChatRate != 2.5 || c.ChatFlushInterval != time.Second || c.ChatBufferTotal != 50 {
		t.Fatalf("chat flags = %+v", c)
	}
	for _, bad := range []string{"--chat-buffer-room=0", "--chat-batch-size=0", "--chat-flush-interval=0s", "--chat-rate=0", "--chat-claim-idle=-1s"} {
		_, err := Parse(prod(bad), env(nil), &bytes.Buffer{})
		name := strings.SplitN(strings.TrimPrefix(bad, "--"), "=", 2)[0]
		if err == nil || !strings.Contains(err.Error(), "--"+name) {
			t.Errorf("%s: err = %v, want one naming --%s", bad, err, name)
		}
	}
	var out bytes.Buffer
	_, _ = Parse([]string{"--help"}, env(nil), &out)
	for _, f := range []string{"chat-history", "chat-rate", "chat-burst", "chat-buffer-room", "chat-buffer-total", "chat-batch-size", "chat-flush-interval", "chat-claim-idle", "chat-history-ttl"} {
		if !strings.Contains(out.String(), "--"+f+"  ["+EnvName(f)+"]") {
			t.Errorf("--help lacks --%s", f)
		}
	}
}

func TestGrantAndTokenLifetimeFlags(t *testing.T) {
	c, err := Parse(prod(), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.RequireRoomGrant || c.TokenRefreshLead != time.Minute || c.TokenExpiryGrace != 0 || c.Revocation {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = Parse(prod(), env(map[string]string{
		"SIGNALING_REQUIRE_ROOM_GRANT": "true", "SIGNALING_TOKEN_REFRESH_LEAD": "2m",
		"SIGNALING_TOKEN_EXPIRY_GRACE": "5s", "SIGNALING_REVOCATION": "true", "SIGNALING_REDIS_URL": "redis://r:6379",
	}), &bytes.Buffer{})
	if err != nil || !c.RequireRoomGrant || c.TokenRefreshLead != 2*time.Minute || c.TokenExpiryGrace != 5*time.Second || !c.Revocation {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}
	if _, err := Parse(append(prod(), "--revocation"), env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--revocation needs Redis") {
		t.Fatalf("--revocation without Redis: %v", err)
	}
	if _, err := Parse(append(prod(), "--token-expiry-grace=-1s"), env(nil), &bytes.Buffer{}); err == nil {
		t.Fatal("a negative grace was accepted")
	}
}
