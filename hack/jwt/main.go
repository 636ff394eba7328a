// Command jwt signs RS256 tokens for trying a Switchboard deployment (docs/quickstart.md):
//
//	go run ./hack/jwt -key jwt-private.pem alice bob
//
// prints one token per user id (display name = the user id), valid for -ttl. The key is the
// private half of the PEM public key the SignalingCluster trusts (spec.auth.publicKeySecretRef).
// Your own identity provider issues the tokens in production.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
)

func main() {
	keyFile := flag.String("key", "jwt-private.pem", "PEM RSA private key (PKCS#1 or PKCS#8)")
	ttl := flag.Duration("ttl", 24*time.Hour, "token lifetime")
	aud := flag.String("aud", "switchboard", "aud claim: the nodes' --jwt-audience (spec.auth.audience)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./hack/jwt [-key jwt-private.pem] [-ttl 24h] [-aud switchboard] user...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	raw, err := os.ReadFile(*keyFile)
	if err != nil {
		fail(err)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(raw)
	if err != nil {
		fail(fmt.Errorf("%s: %w", *keyFile, err))
	}
	signer := &auth.DevKeys{Private: key}
	for _, user := range flag.Args() {
		tok, err := signer.Token(user, user, *ttl, map[string]any{"aud": *aud})
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s %s\n", user, tok)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "jwt:", err)
	os.Exit(1)
}
