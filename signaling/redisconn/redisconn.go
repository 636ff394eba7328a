// Package redisconn builds the go-redis client of a signaling node from its configuration:
// a single server, a Sentinel-managed master or a Redis Cluster, with ACL user, password,
// TLS and real timeouts.
//
// URL syntax (the mode follows from the scheme unless Options.Mode says otherwise):
//
//	redis://[user[:password]@]host:port[/db]              standalone
//	rediss://[user[:password]@]host:port[/db]             standalone over TLS
//	redis-sentinel://[user[:password]@]host:port[,host:port...]/masterName[/db][?sentinel_username=u&sentinel_password=p]
//	rediss-sentinel://...                                 the same over TLS (to Redis and to the sentinels)
//	redis-cluster://[user[:password]@]host:port[,host:port...]
//	rediss-cluster://...                                  cluster over TLS
//
// In a sentinel URL the user and password are those of the Redis master and replicas; the
// sentinels' own credentials, when they have any, go in the query. User and password are
// percent-decoded, so a password with '@' or ':' is written %40 / %3A. Fields set in Options
// (Addrs, MasterName, Username, Password, TLS) override what the URL says.
package redisconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Mode is how Redis is deployed.
type Mode string

const (
	Standalone Mode = "standalone"
	Sentinel   Mode = "sentinel"
	Cluster    Mode = "cluster"
)

// Default timeouts. They are deliberately short: a master that keeps its TCP connections
// open but stops answering (a wedged or paused process, a stale master after a failover)
// must turn into errors within seconds, not block callers forever (docs/failure-modes.md F5).
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
	DefaultMaxRetries   = 1
)

// Options describe the connection. Either URL or Addrs (with Mode) must be given.
type Options struct {
	Mode       Mode
	URL        string
	Addrs      []string
	MasterName string
	DB         int
	Username   string
	Password   string
	// SentinelUsername and SentinelPassword authenticate to the sentinels themselves.
	SentinelUsername string
	SentinelPassword string
	TLS              bool
	// TLSInsecureSkipVerify disables certificate verification (tests, private CAs only).
	TLSInsecureSkipVerify bool
	// TLSServerName overrides the name checked in the server certificate.
	TLSServerName string

	// Zero means the Default* value; a negative timeout is rejected.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxRetries per command; 0 means DefaultMaxRetries, -1 disables retries.
	MaxRetries int
	PoolSize   int
	ClientName string
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid redis options")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Resolve merges the URL into the explicit fields, applies defaults and validates. The
// result has Mode and Addrs set and URL cleared.
func Resolve(o Options) (Options, error) {
	if o.URL != "" {
		u, err := parseURL(o.URL)
		if err != nil {
			return Options{}, err
		}
		if o.Mode != "" && o.Mode != u.Mode {
			return Options{}, invalid("mode %q contradicts URL scheme (%s)", o.Mode, u.Mode)
		}
		o.Mode = u.Mode
		if len(o.Addrs) == 0 {
			o.Addrs = u.Addrs
		}
		if o.MasterName == "" {
			o.MasterName = u.MasterName
		}
		if o.DB == 0 {
			o.DB = u.DB
		}
		if o.Username == "" {
			o.Username = u.Username
		}
		if o.Password == "" {
			o.Password = u.Password
		}
		if o.SentinelUsername == "" {
			o.SentinelUsername = u.SentinelUsername
		}
		if o.SentinelPassword == "" {
			o.SentinelPassword = u.SentinelPassword
		}
		o.TLS = o.TLS || u.TLS
		o.URL = ""
	}
	if o.Mode == "" {
		o.Mode = Standalone
	}
	switch o.Mode {
	case Standalone:
		if len(o.Addrs) != 1 {
			return Options{}, invalid("standalone mode takes exactly one address, got %d", len(o.Addrs))
		}
		if o.MasterName != "" {
			return Options{}, invalid("a master name is only meaningful in sentinel mode")
		}
	case Sentinel:
		if len(o.Addrs) == 0 {
			return Options{}, invalid("sentinel mode needs at least one sentinel address")
		}
		if o.MasterName == "" {
			return Options{}, invalid("sentinel mode needs a master name")
		}
	case Cluster:
		if len(o.Addrs) == 0 {
			return Options{}, invalid("cluster mode needs at least one seed address")
		}
		if o.DB != 0 {
			return Options{}, invalid("redis cluster has only database 0, got %d", o.DB)
		}
		if o.MasterName != "" {
			return Options{}, invalid("a master name is only meaningful in sentinel mode")
		}
	default:
		return Options{}, invalid("unknown mode %q (standalone, sentinel or cluster)", o.Mode)
	}
	for _, a := range o.Addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return Options{}, invalid("address %q is not host:port", a)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return Options{}, invalid("address %q has a bad port", a)
		}
	}
	if o.DB < 0 {
		return Options{}, invalid("negative database %d", o.DB)
	}
	if o.Password == "" && o.Username != "" {
		return Options{}, invalid("username %q given without a password", o.Username)
	}
	if !o.TLS && (o.TLSInsecureSkipVerify || o.TLSServerName != "") {
		return Options{}, invalid("TLS options given but TLS is off (use rediss:// or TLS=true)")
	}
	for name, d := range map[string]*time.Duration{"dial": &o.DialTimeout, "read": &o.ReadTimeout, "write": &o.WriteTimeout} {
		if *d < 0 {
			return Options{}, invalid("negative %s timeout %s", name, *d)
		}
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.PoolSize < 0 {
		return Options{}, invalid("negative pool size %d", o.PoolSize)
	}
	return o, nil
}

type parsedURL struct {
	Mode                               Mode
	TLS                                bool
	Addrs                              []string
	MasterName                         string
	DB                                 int
	Username, Password                 string
	SentinelUsername, SentinelPassword string
}

func parseURL(raw string) (parsedURL, error) {
	var p parsedURL
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return p, invalid("URL %q has no scheme", redact(raw))
	}
	switch strings.ToLower(scheme) {
	case "redis":
		p.Mode = Standalone
	case "rediss":
		p.Mode, p.TLS = Standalone, true
	case "redis-sentinel":
		p.Mode = Sentinel
	case "rediss-sentinel":
		p.Mode, p.TLS = Sentinel, true
	case "redis-cluster":
		p.Mode = Cluster
	case "rediss-cluster":
		p.Mode, p.TLS = Cluster, true
	default:
		return p, invalid("URL scheme %q is not redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", scheme)
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo := authority[:at]
		authority = authority[at+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if p.Username, err = url.PathUnescape(user); err != nil {
			return p, invalid("URL user: %v", err)
		}
		if hasPass {
			if p.Password, err = url.PathUnescape(pass); err != nil {
				return p, invalid("URL password: %v", err)
			}
		} else {
			// redis://secret@host is the common shorthand for a password without a user.
			p.Password, p.Username = p.Username, ""
		}
	}
	if authority == "" {
		return p, invalid("URL %q has no host", redact(raw))
	}
	for _, h := range strings.Split(authority, ",") {
		if _, _, err := net.SplitHostPort(h); err != nil {
			// A bare host means the default port of what it names.
			port := "6379"
			if p.Mode == Sentinel {
				port = "26379"
			}
			h = net.JoinHostPort(strings.Trim(h, "[]"), port)
		}
		p.Addrs = append(p.Addrs, h)
	}
	if p.Mode == Standalone && len(p.Addrs) > 1 {
		return p, invalid("a redis:// URL names one host; use redis-sentinel:// or redis-cluster:// for several")
	}
	var segs []string
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	dbSeg := ""
	switch p.Mode {
	case Sentinel:
		if len(segs) == 0 {
			return p, invalid("redis-sentinel URL needs the master name as its path: redis-sentinel://host:port/masterName")
		}
		p.MasterName = segs[0]
		segs = segs[1:]
	}
	if len(segs) > 1 {
		return p, invalid("URL path %q has too many segments", path)
	}
	if len(segs) == 1 {
		dbSeg = segs[0]
		db, err := strconv.Atoi(dbSeg)
		if err != nil || db < 0 {
			return p, invalid("URL database %q is not a number", dbSeg)
		}
		p.DB = db
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return p, invalid("URL query: %v", err)
	}
	for k := range q {
		switch k {
		case "sentinel_username", "sentinel_password":
			if p.Mode != Sentinel {
				return p, invalid("URL parameter %q is only for redis-sentinel URLs", k)
			}
		default:
			return p, invalid("unknown URL parameter %q", k)
		}
	}
	p.SentinelUsername, p.SentinelPassword = q.Get("sentinel_username"), q.Get("sentinel_password")
	return p, nil
}

// redact hides the password of a URL for error messages.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "<unparseable>"
	}
	authority, tail, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = "xxxxx@" + authority[at+1:]
	}
	return scheme + "://" + authority + "/" + tail
}

// Universal returns the go-redis options for resolved options.
func Universal(o Options) (*redis.UniversalOptions, error) {
	o, err := Resolve(o)
	if err != nil {
		return nil, err
	}
	uo := &redis.UniversalOptions{
		Addrs:            o.Addrs,
		ClientName:       o.ClientName,
		DB:               o.DB,
		Username:         o.Username,
		Password:         o.Password,
		SentinelUsername: o.SentinelUsername,
		SentinelPassword: o.SentinelPassword,
		MasterName:       o.MasterName,
		DialTimeout:      o.DialTimeout,
		ReadTimeout:      o.ReadTimeout,
		WriteTimeout:     o.WriteTimeout,
		MaxRetries:       o.MaxRetries,
		PoolSize:         o.PoolSize,
		// Deadlines of the caller's context bound every command, on top of the timeouts.
		ContextTimeoutEnabled: true,
		// Protocol 2: pub/sub on RESP3 push frames has had reconnect bugs; RESP2 is the
		// well-trodden path for a dedicated subscriber connection.
		Protocol:        2,
		DisableIdentity: true,
		IsClusterMode:   o.Mode == Cluster,
	}
	if o.TLS {
		uo.TLSConfig = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			ServerName:         o.TLSServerName,
			InsecureSkipVerify: o.TLSInsecureSkipVerify, //nolint:gosec // explicit opt-in, documented
		}
	}
	return uo, nil
}

// New builds the client for o. It does not connect: the first command does, so a node can
// start (degraded) while Redis is down.
func New(o Options) (redis.UniversalClient, error) {
	r, err := Resolve(o)
	if err != nil {
		return nil, err
	}
	uo, err := Universal(r)
	if err != nil {
		return nil, err
	}
	switch r.Mode {
	case Sentinel:
		return redis.NewFailoverClient(uo.Failover()), nil
	case Cluster:
		return redis.NewClusterClient(uo.Cluster()), nil
	default:
		return redis.NewClient(uo.Simple()), nil
	}
}
