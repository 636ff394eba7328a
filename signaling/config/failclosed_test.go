package config

import (
	"bytes"
	"strings"
	"testing"
)

func TestProductionRefusesToStartWithAnOpenDoor(t *testing.T) {
	key := "--jwt-public-key=/k.pem"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{key, "--jwt-audience=switchboard"}, "--allowed-origins is required outside --dev"},
		{[]string{key, "--allowed-origins=*"}, "--jwt-audience is required outside --dev"},
		{[]string{"--jwks-url=http://idp.example/jwks.json", "--allowed-origins=*", "--jwt-audience=a"}, "--jwks-url must be an https:// URL"},
		{[]string{"--jwks-url=idp.example/jwks.json", "--allowed-origins=*", "--jwt-audience=a"}, "--jwks-url must be an https:// URL"},
	}
	for _, tc := range cases {
		_, err := Parse(tc.args, env(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	// A literal * is what allows any origin; an https JWKS is fine.
	c, err := Parse([]string{"--jwks-url=https://idp.example/jwks.json", "--allowed-origins=*", "--jwt-audience=a"}, env(nil), &bytes.Buffer{})
	if err != nil || c.Listen != ":8080" || c.MetricsListen != ":9090" {
		t.Fatalf("complete production flags: listen=%q metrics=%q err=%v", c.Listen, c.MetricsListen, err)
	}
}

func TestDevStaysOnLoopbackWithoutSharedInfrastructure(t *testing.T) {
	// `make run`: no other flag, loopback listener.
	c, err := Parse([]string{"--dev"}, env(nil), &bytes.Buffer{})
	if err != nil || c.Listen != "127.0.0.1:8080" || c.MetricsListen != "127.0.0.1:9090" {
		t.Fatalf("--dev alone: listen=%q metrics=%q err=%v", c.Listen, c.MetricsListen, err)
	}
	for _, ok := range [][]string{{"--dev", "--listen=localhost:9000"}, {"--dev", "--listen=[::1]:9000"}, {"--dev", "--jwks-url=http://127.0.0.1:1/jwks"}} {
		if _, err := Parse(ok, env(nil), &bytes.Buffer{}); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--dev", "--listen=:8080"}, nil, "--dev listens on loopback only"},
		{[]string{"--dev"}, map[string]string{"SIGNALING_LISTEN": "0.0.0.0:8080"}, "--dev listens on loopback only"},
		{[]string{"--dev", "--metrics-listen=:9090"}, nil, "not --metrics-listen"},
		{[]string{"--dev", "--redis-url=redis://127.0.0.1:7000"}, nil, "--dev does not use Redis"},
		{[]string{"--dev", "--redis-addrs=127.0.0.1:7000"}, nil, "--dev does not use Redis"},
		{[]string{"--dev", "--room-service-url=http://rooms"}, nil, "remove --room-service-url"},
		{[]string{"--dev", "--chat-service-url=http://chat"}, nil, "remove --chat-service-url"},
		{[]string{"--dev", "--media-service-url=http://media"}, nil, "remove --media-service-url"},
	}
	for _, tc := range cases {
		_, err := Parse(tc.args, env(tc.env), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--dev-unsafe") {
			t.Errorf("%v %v: err = %v, want %q and the --dev-unsafe hint", tc.args, tc.env, err, tc.want)
		}
		if _, err := Parse(append(tc.args, "--dev-unsafe"), env(tc.env), &bytes.Buffer{}); err != nil {
			t.Errorf("%v --dev-unsafe: %v", tc.args, err)
		}
	}
}
