package redisconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
)

func TestResolve(t *testing.T) {
	defaults := func(o Options) Options {
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries = DefaultDialTimeout, DefaultReadTimeout, DefaultWriteTimeout, DefaultMaxRetries
		return o
	}
	tests := []struct {
		name    string
		in      Options
		want    Options
		wantErr string
	}{
		{name: "plain URL", in: Options{URL: "redis://127.0.0.1:7000"},
			want: defaults(Options{Mode: Standalone, Addrs: []string{"127.0.0.1:7000"}})},
		{name: "URL with ACL user, password, db", in: Options{URL: "redis://app:s%40cret@redis.internal:6380/2"},
			want: defaults(Options{Mode: Standalone, Addrs: []string{"redis.internal:6380"}, Username: "app", Password: "s@cret", DB: 2})},
		{name: "password-only userinfo", in: Options{URL: "redis://secret@h:1"},
			want: defaults(Options{Mode: Standalone, Addrs: []string{"h:1"}, Password: "secret"})},
		{name: "bare host gets the default port", in: Options{URL: "redis://h"},
			want: defaults(Options{Mode: Standalone, Addrs: []string{"h:6379"}})},
		{name: "rediss turns TLS on", in: Options{URL: "rediss://h:6380", TLSInsecureSkipVerify: true},
			want: defaults(Options{Mode: Standalone, Addrs: []string{"h:6380"}, TLS: true, TLSInsecureSkipVerify: true})},
		{name: "sentinel URL", in: Options{URL: "redis-sentinel://u:p@s1:26379,s2:26380,s3/mymaster/1?sentinel_password=sp"},
			want: defaults(Options{Mode: Sentinel, Addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, MasterName: "mymaster", DB: 1, Username: "u", Password: "p", SentinelPassword: "sp"})},
		{name: "cluster URL", in: Options{URL: "redis-cluster://a:7000,b:7001"},
			want: defaults(Options{Mode: Cluster, Addrs: []string{"a:7000", "b:7001"}})},
		{name: "explicit fields without URL", in: Options{Mode: Sentinel, Addrs: []string{"s:1"}, MasterName: "m", ReadTimeout: time.Second},
			want: Options{Mode: Sentinel, Addrs: []string{"s:1"}, MasterName: "m", DialTimeout: DefaultDialTimeout, ReadTimeout: time.Second, WriteTimeout: DefaultWriteTimeout, MaxRetries: DefaultMaxRetries}},
		{name: "explicit fields override the URL", in: Options{URL: "redis://u:p@h:1", Password: "other", Addrs: []string{"x:2"}},
			want: defaults(Options{Mode: Standalone, Addrs: []string{"x:2"}, Username: "u", Password: "other"})},
		{name: "IPv6 host", in: Options{URL: "redis://[::1]:7000"},
			want: defaults(Options{Mode: Standalone, Addrs: []string{"[::1]:7000"}})},

		{name: "no address", in: Options{}, wantErr: "exactly one address"},
		{name: "unknown scheme", in: Options{URL: "http://h:1"}, wantErr: "scheme"},
		{name: "no scheme", in: Options{URL: "h:1"}, wantErr: "no scheme"},
		{name: "sentinel without master name", in: Options{URL: "redis-sentinel://s:1"}, wantErr: "master name"},
		{name: "explicit sentinel without master", in: Options{Mode: Sentinel, Addrs: []string{"s:1"}}, wantErr: "master name"},
		{name: "several hosts in redis://", in: Options{URL: "redis://a:1,b:2"}, wantErr: "one host"},
		{name: "mode contradicts scheme", in: Options{Mode: Cluster, URL: "redis://h:1"}, wantErr: "contradicts"},
		{name: "unknown mode", in: Options{Mode: "ring", Addrs: []string{"h:1"}}, wantErr: "unknown mode"},
		{name: "bad db", in: Options{URL: "redis://h:1/x"}, wantErr: "database"},
		{name: "cluster with db", in: Options{Mode: Cluster, Addrs: []string{"h:1"}, DB: 3}, wantErr: "database 0"},
		{name: "bad port", in: Options{Addrs: []string{"h:99999"}}, wantErr: "bad port"},
		{name: "not host:port", in: Options{Addrs: []string{"h"}}, wantErr: "host:port"},
		{name: "unknown query parameter", in: Options{URL: "redis://h:1?dial_timeout=3"}, wantErr: "unknown URL parameter"},
		{name: "sentinel query on plain URL", in: Options{URL: "redis://h:1?sentinel_password=x"}, wantErr: "only for redis-sentinel"},
		{name: "TLS option without TLS", in: Options{URL: "redis://h:1", TLSInsecureSkipVerify: true}, wantErr: "TLS is off"},
		{name: "user without password", in: Options{Addrs: []string{"h:1"}, Username: "u"}, wantErr: "without a password"},
		{name: "negative timeout", in: Options{Addrs: []string{"h:1"}, ReadTimeout: -time.Second}, wantErr: "negative read timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.in)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve(%+v) error = %v, want ErrInvalid containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Resolve(%+v)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestErrorsNeverLeakThePassword(t *testing.T) {
	_, err := Resolve(Options{URL: "redis://u:topsecret@h:1,b:2"})
	if err == nil || contains(err.Error(), "topsecret") {
		t.Fatalf("error %v", err)
	}
	_, err = Resolve(Options{URL: "ftp://u:topsecret@h:1"})
	if err == nil || contains(err.Error(), "topsecret") {
		t.Fatalf("error %v", err)
	}
}

func TestUniversalSetsTimeoutsAndTLS(t *testing.T) {
	uo, err := Universal(Options{URL: "rediss-cluster://a:1,b:2", TLSServerName: "redis.example"})
	if err != nil {
		t.Fatal(err)
	}
	if !uo.IsClusterMode || uo.TLSConfig == nil || uo.TLSConfig.ServerName != "redis.example" || uo.TLSConfig.InsecureSkipVerify {
		t.Fatalf("cluster/TLS not set: %+v", uo)
	}
	if uo.ReadTimeout != DefaultReadTimeout || uo.DialTimeout != DefaultDialTimeout || !uo.ContextTimeoutEnabled {
		t.Fatalf("timeouts not set: read %s dial %s ctx %v", uo.ReadTimeout, uo.DialTimeout, uo.ContextTimeoutEnabled)
	}
}

func TestNewBuildsTheClientOfEachMode(t *testing.T) {
	c, err := New(Options{URL: "redis://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*redis.Client); !ok {
		t.Fatalf("standalone: %T", c)
	}
	cc, err := New(Options{URL: "redis-cluster://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, ok := cc.(*redis.ClusterClient); !ok {
		t.Fatalf("cluster: %T", cc)
	}
}

func TestClientsTalkToRealServers(t *testing.T) {
	ctx := context.Background()
	t.Run("standalone with ACL user", func(t *testing.T) {
		s := redisserver.Start(t, redisserver.Options{})
		s.Do("ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all")
		c, err := New(Options{URL: "redis://app:pw@" + s.Addr() + "/3"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		bad, _ := New(Options{URL: "redis://app:wrong@" + s.Addr()})
		defer bad.Close()
		if err := bad.Ping(ctx).Err(); err == nil || !IsUnavailable(err) {
			t.Fatalf("wrong password: %v", err)
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		st := redisserver.StartSentinel(t)
		c, err := New(Options{URL: st.URL()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got := st.Master.Do("GET", "k"); got != "v" {
			t.Fatalf("write did not reach the master: %v", got)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redisserver.StartCluster(t)
		c, err := New(Options{URL: cl.URL()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := 0; i < 20; i++ {
			if err := c.Set(ctx, fmt.Sprintf("k%d", i), "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestWedgedServerFailsWithinTheReadTimeout(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	c, err := New(Options{URL: s.URL(), ReadTimeout: 300 * time.Millisecond, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	defer s.Resume()
	done := make(chan error, 1)
	go func() { done <- c.Ping(context.Background()).Err() }()
	select {
	case err := <-done:
		if !IsUnavailable(err) {
			t.Fatalf("PING on a paused server: %v, want an unavailable error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("PING on a paused server blocked for 10s despite a 300ms read timeout")
	}
}

func TestIsUnavailable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{io.EOF, true},
		{context.DeadlineExceeded, true},
		{redisError("READONLY You can't write against a read only replica."), true},
		{redisError("LOADING Redis is loading the dataset in memory"), true},
		{redisError("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{redisError("ERR Error running script"), false},
	}
	for _, tt := range tests {
		if got := IsUnavailable(tt.err); got != tt.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type redisError string

func (e redisError) Error() string { return string(e) }
func (redisError) RedisError()     {}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
