// Package demo serves the demo page: a plain HTML/JS video-call client of the signaling
// protocol at /demo, with its assets (and a vendored socket.io-client) embedded in the
// binary. The node registers it only with --demo (on by default with --dev).
package demo

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

// Path is where the page is served; its assets live under Path + "/".
const Path = "/demo"

//go:embed static
var static embed.FS

// Static is the embedded file tree (index.html, demo.js, demo.css, socket.io.min.js).
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// Options configure the page.
type Options struct {
	// DevTokens tells the page that the node serves /dev/token (--dev): it then mints
	// a token for the display name it is given. Otherwise the page sends the token the
	// user pastes, or none (the access_token cookie then authenticates).
	DevTokens bool
}

// config is what the page reads from Path + "/config.json".
type config struct {
	DevTokens bool `json:"devTokens"`
}

// Register adds the page's routes to mux: GET /demo (the page), GET /demo/config.json
// and GET /demo/<asset>.
func Register(mux *http.ServeMux, opts Options) {
	files := Static()
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err)
	}
	cfg, _ := json.Marshal(config(opts))
	serveIndex := func(w http.ResponseWriter, _ *http.Request) {
		setHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(index)
	}
	fileServer := http.StripPrefix(Path, http.FileServerFS(files))
	mux.HandleFunc("GET "+Path, serveIndex)
	mux.HandleFunc("GET "+Path+"/{$}", serveIndex)
	mux.HandleFunc("GET "+Path+"/config.json", func(w http.ResponseWriter, _ *http.Request) {
		setHeaders(w)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(cfg)
	})
	mux.HandleFunc("GET "+Path+"/", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		fileServer.ServeHTTP(w, r)
	})
}

func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Everything is same-origin: scripts, styles, the Socket.IO WebSocket and /dev/token.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
}
