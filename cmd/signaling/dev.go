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

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/config"
)

const devTokenTTL = 24 * time.Hour

// printDevBanner tells a newcomer how to connect to a --dev node.
func printDevBanner(out io.Writer, addr, metricsAddr string, cfg config.Config, k *auth.DevKeys) {
	_, port, _ := net.SplitHostPort(addr)
	url := "http://localhost:" + port
	_, metricsPort, _ := net.SplitHostPort(metricsAddr)
	alice, _ := k.Token("alice", "Alice", devTokenTTL, devClaims(cfg))
	bob, _ := k.Token("bob", "Bob", devTokenTTL, devClaims(cfg))
	fmt.Fprintf(out, `
================ Switchboard dev node ================
Socket.IO endpoint: %[1]s  (path /socket.io/, transports: ["polling", "websocket"])
Dev tokens (RS256, valid 24h, key pair generated at start):
  alice: %[2]s
  bob:   %[3]s

Connect with socket.io-client 4.x (Node or a browser):
  const socket = io("%[1]s", { auth: { token: "<token>" } });
  socket.emit("join_room", { roomId: "demo" }, (ack) => console.log(ack));
or send the token as the cookie %[4]s=<token>, or the header "Authorization: Bearer <token>".
More tokens: curl '%[1]s/dev/token?user=carol&name=Carol'
Health: %[1]s/healthz  Ready: %[1]s/readyz  Metrics: http://localhost:%[5]s/metrics
======================================================
`, url, alice, bob, cfg.JWTCookie, metricsPort)
}

func devClaims(cfg config.Config) map[string]any {
	c := map[string]any{}
	if cfg.JWTIssuer != "" {
		c["iss"] = cfg.JWTIssuer
	}
	if cfg.JWTAudience != "" {
		c["aud"] = cfg.JWTAudience
	}
	return c
}

var devUserID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// addDevRoutes serves /dev/token, which mints tokens. It exists only with --dev.
func addDevRoutes(mux *http.ServeMux, cfg config.Config, k *auth.DevKeys) {
	mux.HandleFunc("/dev/token", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		name := r.URL.Query().Get("name")
		if !devUserID.MatchString(user) || len(name) > 64 {
			http.Error(w, "query parameter user must be 1-64 characters of [A-Za-z0-9_.-]; name at most 64", http.StatusBadRequest)
			return
		}
		tok, err := k.Token(user, name, devTokenTTL, devClaims(cfg))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "userId": user})
	})
}
