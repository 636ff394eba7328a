package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// JWKS fetches RSA keys from a JSON Web Key Set URL and selects them by kid. An unknown
// kid triggers a refresh (at most once per MinRefresh), so key rotation needs no restart.
type JWKS struct {
	URL        string
	Client     *http.Client
	MinRefresh time.Duration

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

// NewJWKS returns a key set for url.
func NewJWKS(url string) *JWKS {
	return &JWKS{URL: url, Client: &http.Client{Timeout: 5 * time.Second}, MinRefresh: 30 * time.Second}
}

// Key returns the key with the given kid ("" selects the only key of a one-key set).
func (j *JWKS) Key(kid string) (*rsa.PublicKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if k := j.lookup(kid); k != nil {
		return k, nil
	}
	if time.Since(j.fetched) < j.MinRefresh && j.keys != nil {
		return nil, fmt.Errorf("no JWKS key with kid %q", kid)
	}
	if err := j.refresh(); err != nil {
		return nil, err
	}
	if k := j.lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("no JWKS key with kid %q", kid)
}

func (j *JWKS) lookup(kid string) *rsa.PublicKey {
	if kid == "" && len(j.keys) == 1 {
		for _, k := range j.keys {
			return k
		}
	}
	return j.keys[kid]
}

func (j *JWKS) refresh() error {
	j.fetched = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.URL, nil)
	if err != nil {
		return err
	}
	resp, err := j.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch JWKS: HTTP %d", resp.StatusCode)
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decode JWKS: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	j.keys = keys
	return nil
}
