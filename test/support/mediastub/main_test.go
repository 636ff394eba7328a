package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthEndpoint(t *testing.T) {
	srv := httptest.NewServer(newHandler("/health"))
	defer srv.Close()
	cases := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/health", 200, `{"status":"ok"}`},
		{"POST", "/health", 404, `{"error":{"code":"not_found","message":"mediastub serves only the health endpoint"}}`},
		{"GET", "/rooms/r1/rtp-capabilities", 404, `{"error":{"code":"not_found","message":"mediastub serves only the health endpoint"}}`},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || string(body) != c.body {
			t.Errorf("%s %s = %d %s, want %d %s", c.method, c.path, resp.StatusCode, body, c.status, c.body)
		}
	}
}
