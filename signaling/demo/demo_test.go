package demo

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestRoutes(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux, Options{DevTokens: true})
	for _, path := range []string{"/demo", "/demo/"} {
		res, body := get(t, mux, path)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `<script src="/demo/demo.js">`) {
			t.Fatalf("GET %s: %d %q", path, res.StatusCode, body[:min(len(body), 200)])
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("GET %s: Content-Type %q", path, ct)
		}
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("GET %s: no Content-Security-Policy", path)
		}
	}
	for path, ctype := range map[string]string{
		"/demo/demo.js":          "text/javascript",
		"/demo/socket.io.min.js": "text/javascript",
		"/demo/demo.css":         "text/css",
	} {
		res, body := get(t, mux, path)
		if res.StatusCode != http.StatusOK || len(body) == 0 || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Fatalf("GET %s: %d %q, %d bytes", path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
	}
	res, body := get(t, mux, "/demo/config.json")
	var cfg struct{ DevTokens bool }
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &cfg) != nil || !cfg.DevTokens {
		t.Fatalf("GET /demo/config.json: %d %q", res.StatusCode, body)
	}
	if res, _ := get(t, mux, "/demo/nope.js"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /demo/nope.js: %d, want 404", res.StatusCode)
	}

	mux = http.NewServeMux()
	Register(mux, Options{})
	if _, body := get(t, mux, "/demo/config.json"); strings.TrimSpace(body) != `{"devTokens":false}` {
		t.Fatalf("config without dev tokens: %q", body)
	}
}

// TestVendoredSocketIOClient checks that static/socket.io.min.js is the socket.io-client
// locked in test/browser/package-lock.json (refresh it with `make vendor-socketio`).
func TestVendoredSocketIOClient(t *testing.T) {
	lockPath := filepath.Join("..", "..", "test", "browser", "package-lock.json")
	raw, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		t.Fatal(err)
	}
	want := lock.Packages["node_modules/socket.io-client"].Version
	if want == "" {
		t.Fatalf("%s locks no socket.io-client", lockPath)
	}
	if !strings.HasPrefix(want, "4.") {
		t.Fatalf("locked socket.io-client %s: the demo needs 4.x", want)
	}
	vendored, err := fs.ReadFile(Static(), "socket.io.min.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Socket\.IO v(\S+)`).FindSubmatch(vendored[:min(len(vendored), 200)])
	if m == nil || string(m[1]) != want {
		t.Fatalf("static/socket.io.min.js is socket.io-client %q, the lock has %s: run `make vendor-socketio`", m, want)
	}
	// Byte for byte, when the npm tree is installed (make test-browser installs it).
	npmFile := filepath.Join("..", "..", "test", "browser", "node_modules", "socket.io-client", "dist", "socket.io.min.js")
	fromNpm, err := os.ReadFile(npmFile)
	if os.IsNotExist(err) {
		t.Logf("%s not installed; checked the version header only", npmFile)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromNpm, vendored) {
		t.Fatalf("static/socket.io.min.js differs from %s: run `make vendor-socketio`", npmFile)
	}
}
