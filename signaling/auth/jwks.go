package auth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// MinRSABits is the smallest RSA modulus a verification key may have, from a PEM file or a
// JWKS: a shorter key can be factored and tokens forged with it.
const MinRSABits = 2048

// JWKSOptions configure a JWKS key source.
type JWKSOptions struct {
	URL string
	// RefreshInterval is how often the set is fetched in the background (--jwks-refresh,
	// default 10 min). A failed fetch keeps the last good set.
	RefreshInterval time.Duration
	// UnknownKIDInterval is the least time between fetches caused by tokens whose kid is not
	// in the set (a key the issuer just added), default 30 s; negative turns them off. A token
	// arriving while the limit holds is refused at once rather than waiting.
	UnknownKIDInterval time.Duration
	// HTTPTimeout bounds one fetch, default 5 s.
	HTTPTimeout time.Duration
	// AllowHTTP accepts an http:// URL (--dev only); otherwise only https:// is fetched.
	AllowHTTP bool
	// Client fetches the set (tests pass their TLS server's client); its redirect policy is
	// replaced by one that refuses a change of scheme.
	Client *http.Client
	Logger *slog.Logger
}

// JWKS selects verification keys from a JSON Web Key Set by kid, kept fresh by
// github.com/MicahParks/keyfunc (on github.com/MicahParks/jwkset): a background refresh that
// keeps the last good set, rate-limited refreshes for unknown kids, and no lock held while a
// fetch runs (a fetch replaces the stored set in one step when it has succeeded).
type JWKS struct {
	kf      keyfunc.Keyfunc
	timeout time.Duration
}

// NewJWKS starts the key source; its background refresh ends with ctx. An unreachable JWKS
// at start is not an error: tokens are refused until a fetch succeeds.
func NewJWKS(ctx context.Context, o JWKSOptions) (*JWKS, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(o.AllowHTTP && u.Scheme == "http")) {
		return nil, fmt.Errorf("JWKS URL %q: want an https:// URL", o.URL)
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 10 * time.Minute
	}
	if o.UnknownKIDInterval == 0 {
		o.UnknownKIDInterval = 30 * time.Second
	}
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{Timeout: o.HTTPTimeout}
	if o.Client != nil {
		c := *o.Client
		client = &c
	}
	client.CheckRedirect = refuseSchemeChange
	log := o.Logger.With("component", "jwks", "url", o.URL)
	store, err := jwkset.NewStorageFromHTTP(o.URL, jwkset.HTTPClientStorageOptions{
		Client:                    client,
		Ctx:                       ctx,
		HTTPTimeout:               o.HTTPTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshInterval:           o.RefreshInterval,
		RefreshErrorHandler: func(_ context.Context, err error) {
			log.Warn("JWKS fetch failed; keeping the last good key set", "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	var unknownKID *rate.Limiter
	if o.UnknownKIDInterval > 0 {
		unknownKID = rate.NewLimiter(rate.Every(o.UnknownKIDInterval), 1)
	}
	// RateLimitWaitMax 0: the wait is bounded by the caller's context alone (Key), so a
	// token that would have to wait for the limiter fails at once.
	keys, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{o.URL: store},
		RefreshUnknownKID: unknownKID,
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	// Keys marked for encryption never verify a token; keys without "use" may.
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: keys, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return &JWKS{kf: kf, timeout: o.HTTPTimeout}, nil
}

// refuseSchemeChange stops a redirect from https to http (or anywhere else): the key set
// must come over the channel the URL names.
func refuseSchemeChange(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("JWKS: too many redirects")
	}
	if req.URL.Scheme != via[0].URL.Scheme {
		return fmt.Errorf("JWKS: refusing a redirect from %s to %s", via[0].URL.Scheme, req.URL.Scheme)
	}
	return nil
}

// key returns the verification key (or, for a token without kid, the keys) for t; RSA keys
// shorter than MinRSABits and keys of other types are refused.
func (j *JWKS) key(t *jwt.Token) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), j.timeout)
	defer cancel()
	k, err := j.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, err
	}
	if set, ok := k.(jwt.VerificationKeySet); ok {
		var strong jwt.VerificationKeySet
		for _, k := range set.Keys {
			if strongRSA(k) == nil {
				strong.Keys = append(strong.Keys, k)
			}
		}
		if len(strong.Keys) == 0 {
			return nil, errors.New("JWKS has no RSA key of at least 2048 bits")
		}
		return strong, nil
	}
	if err := strongRSA(k); err != nil {
		return nil, err
	}
	return k, nil
}

func strongRSA(k any) error {
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("JWKS key is %T, not an RSA public key", k)
	}
	if rk.N.BitLen() < MinRSABits {
		return fmt.Errorf("JWKS key is %d bits; at least %d are required", rk.N.BitLen(), MinRSABits)
	}
	return nil
}
