package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// LoadPublicKey reads an RSA public key from a PEM file (PKIX "PUBLIC KEY", PKCS#1
// "RSA PUBLIC KEY", or a certificate).
func LoadPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read JWT public key: %w", err)
	}
	return ParsePublicKeyPEM(b)
}

// ParsePublicKeyPEM parses an RSA public key in PEM form.
func ParsePublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	k, err := jwt.ParseRSAPublicKeyFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("parse JWT public key: %w", err)
	}
	if k.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("JWT public key is %d bits; at least %d are required", k.N.BitLen(), MinRSABits)
	}
	return k, nil
}

// DevKeys is a throw-away key pair for `--dev` and tests.
type DevKeys struct {
	Private *rsa.PrivateKey
}

// NewDevKeys generates a 2048-bit RSA key pair.
func NewDevKeys() (*DevKeys, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &DevKeys{Private: k}, nil
}

// PublicPEM returns the public key in PKIX PEM form.
func (d *DevKeys) PublicPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&d.Private.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Token signs an RS256 token for userID with display name name, valid for ttl.
func (d *DevKeys) Token(userID, name string, ttl time.Duration, extra map[string]any) (string, error) {
	now := time.Now()
	c := jwt.MapClaims{"sub": userID, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	if name != "" {
		c["name"] = name
	}
	for k, v := range extra {
		c[k] = v
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(d.Private)
}
