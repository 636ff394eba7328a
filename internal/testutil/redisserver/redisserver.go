// Package redisserver starts real redis-server processes for tests: a single server, a
// Sentinel topology (one master, one replica, three sentinels) and a three-master Cluster.
//
// Every process listens on a free 127.0.0.1 port (never 6379), keeps its files in a test
// temp dir and is killed by t.Cleanup. A missing redis-server binary fails the test: these
// tests are part of `make test` and must not silently pass on a machine without Redis.
package redisserver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Binary is the redis-server executable; REDIS_SERVER overrides it.
func Binary(t testing.TB) string {
	t.Helper()
	name := os.Getenv("REDIS_SERVER")
	if name == "" {
		name = "redis-server"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("redis-server not found (%v): install it (Debian: apt-get install redis-server) or set REDIS_SERVER; these tests need a real Redis", err)
	}
	return p
}

// Options configure one server.
type Options struct {
	// AOF turns on the append-only file with appendfsync always, so data survives Kill.
	AOF bool
	// Args are extra redis-server arguments, e.g. "--replicaof", "127.0.0.1", "7000".
	Args []string
	// Sentinel starts the process as a sentinel; Config is then written to sentinel.conf.
	Sentinel bool
	// Config is the content of the config file passed as the first argument (optional).
	Config string
	// PortOffsetFree also requires port+10000 to be free (Redis Cluster bus port).
	PortOffsetFree bool
}

// Server is one redis-server (or sentinel) process.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	opts Options

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *bytes.Buffer
}

// Start launches a redis-server on a free port and waits until it answers PING.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary(t)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort(opts.PortOffsetFree)
		if err != nil {
			t.Fatalf("redisserver: free port: %v", err)
		}
		dir, err := os.MkdirTemp(t.TempDir(), fmt.Sprintf("redis-%d-", port))
		if err != nil {
			t.Fatalf("redisserver: temp dir: %v", err)
		}
		s := &Server{t: t, bin: bin, dir: dir, port: port, opts: opts}
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redisserver: could not start redis-server: %v", lastErr)
	return nil
}

// FreePort returns a port that was free on 127.0.0.1 a moment ago (never 6379, 26379).
// With bus, port+10000 is free too.
func FreePort(bus bool) (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port == 6379 || port == 26379 {
			continue
		}
		if bus {
			if port+10000 > 65535 {
				continue
			}
			l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
			if err != nil {
				continue
			}
			_ = l2.Close()
		}
		return port, nil
	}
	return 0, fmt.Errorf("no free port found")
}

func (s *Server) args() []string {
	var args []string
	if s.opts.Config != "" || s.opts.Sentinel {
		name := "redis.conf"
		if s.opts.Sentinel {
			name = "sentinel.conf"
		}
		path := filepath.Join(s.dir, name)
		// Sentinel rewrites its config file; write it only the first time so a restarted
		// sentinel keeps what it learnt.
		if _, err := os.Stat(path); err != nil {
			if err := os.WriteFile(path, []byte(s.opts.Config), 0o600); err != nil {
				s.t.Fatalf("redisserver: write config: %v", err)
			}
		}
		args = append(args, path)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--protected-mode", "no",
		"--loglevel", "notice",
	)
	if s.opts.Sentinel {
		return append(append(args, "--sentinel"), s.opts.Args...)
	}
	args = append(args, "--save", "")
	if s.opts.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	return append(args, s.opts.Args...)
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin, s.args()...)
	logs := &bytes.Buffer{}
	cmd.Stdout = &lockedWriter{w: logs}
	cmd.Stderr = cmd.Stdout
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.logs = cmd, done, logs
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("redis-server exited on port %d: %s", s.port, s.Logs())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		// A server loading its AOF answers LOADING: wait for it to finish.
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("redis-server on port %d did not answer PING within 10s: %s", s.port, s.Logs())
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the TCP port.
func (s *Server) Port() int { return s.port }

// URL is redis://host:port.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Logs returns what the process printed so far (for failure messages).
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return ""
	}
	lw := s.cmd.Stdout.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.String()
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (s *Server) wait(timeout time.Duration) bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Kill sends SIGKILL and waits for the process to exit. It is idempotent.
func (s *Server) Kill() {
	s.signal(syscall.SIGCONT) // a paused process must be able to die
	s.signal(syscall.SIGKILL)
	s.wait(10 * time.Second)
}

// Pause freezes the process (SIGSTOP): TCP connections stay open but nothing answers,
// like a wedged master.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

// Restart starts the server again on the same port and directory (after Kill or Stop;
// a running process is killed first).
func (s *Server) Restart() {
	s.t.Helper()
	if s.Running() {
		s.Kill()
	}
	var err error
	// The port can briefly stay busy after a kill; retry for a while.
	for i := 0; i < 20; i++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redisserver: restart on port %d: %v", s.port, err)
}

// Client returns a go-redis client for this server, closed at cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: 3 * time.Second})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Do runs one command with a short-lived connection and fails the test on error.
func (s *Server) Do(args ...any) any {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := c.Do(ctx, args...).Result()
	if err != nil && err != redis.Nil {
		s.t.Fatalf("redisserver: %v on %s: %v", args, s.Addr(), err)
	}
	return v
}
