// Command mediastub stands in for a Media Service in tests: it answers the health endpoint
// (docs/backends.md, Media Service: GET {base}/health → 200 {"status":"ok"})
// and nothing else, so that a test can make the media service healthy or gone by scaling it.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	path := flag.String("health-path", "/health", "path of the health endpoint")
	flag.Parse()

	srv := &http.Server{Addr: *listen, Handler: newHandler(*path), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("mediastub: serving %s on %s", *path, *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// newHandler answers GET healthPath with 200 {"status":"ok"}; every other request gets the
// Media Service's JSON error shape with 404.
func newHandler(healthPath string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+healthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"mediastub serves only the health endpoint"}}`))
	})
	return mux
}
