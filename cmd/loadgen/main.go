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

// Command loadgen is Switchboard's load generator: it opens many authenticated Socket.IO
// clients (the project's own client and codec) against one or more signaling nodes, joins
// them into rooms and runs a scenario — idle heartbeats, WebRTC relay between pairs, chat
// fan-out, join/leave churn, or a join storm — then reports connections held, messages
// sent and received, loss, duplicates and latency percentiles, as text or JSON.
//
//	loadgen keygen --out /tmp/lg                       # key pair: node gets public.pem
//	signaling --jwt-public-key /tmp/lg/public.pem --jwt-audience switchboard-bench --allowed-origins '*' --listen 127.0.0.1:8080 &
//	loadgen --private-key /tmp/lg/private.pem --url http://127.0.0.1:8080 \
//	        --clients 1000 --room-size 10 --scenario chat --rate 2 --duration 20s
//
// See `loadgen --help` and docs/benchmarks.md.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "keygen" {
		if err := keygen(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen keygen:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

const usageHead = `Usage:
  loadgen keygen --out DIR          write DIR/private.pem and DIR/public.pem (RSA 2048);
                                    start the node with --jwt-public-key DIR/public.pem
  loadgen [flags]                   run a scenario

Scenarios (--scenario):
  idle   connect, join rooms, send heartbeat (with ack) every --heartbeat; measures the
         heartbeat ack latency and, with --node-pids, the node's memory per connection
  relay  rooms are cut into pairs; each pair exchanges webrtc_offer / webrtc_ice_candidate
         in both directions at --rate messages/s IN TOTAL (all pairs together). With two
         --url values, the two members of a pair sit on different nodes (cross-node relay)
  chat   every room gets --rate chat_message/s PER ROOM from its members in turn; every
         member (sender included) receives each one: deliveries = messages x room size
  churn  leave_room + join_room cycles at --rate cycles/s in total over random clients
  storm  all --clients dial and join at once (no concurrency cap); reports the time
         until the last one is in its room, then exits (a join storm)

Clients are assigned to --url values round-robin by index and to rooms in blocks of
--room-size (client i is in room i / room-size), so with two nodes every room spans both.
Every tracked message carries "~lg<id>.<send-unix-ns>~" in its sdp/candidate/content:
receivers record latency from it, and count loss and duplicates per (message, receiver).
Latency percentiles come from a log-linear histogram (HdrHistogram-like, 1.6 % buckets).

Limits: one process holds at most about (open-file limit - 100) sockets; a source address
has about 28,000 ephemeral ports toward one node. Use --procs to split the clients over
several loader processes and --source-addrs to spread them over loopback addresses.

Flags:
`

func usage(fs *flag.FlagSet) func() {
	return func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
}

type cliFlags struct {
	urls, metricsURLs, sourceAddrs, nodePIDs, privateKey, prefix string
	jsonOut, child                                               bool
	procs, clientOffset                                          int
	progress                                                     time.Duration
}

func run(args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.Usage = usage(fs)
	var cfg config
	var f cliFlags
	fs.StringVar(&f.urls, "url", "http://127.0.0.1:8080", "comma-separated node base URLs (loopback only: 127.0.0.0/8 or [::1]); clients are spread over them round-robin")
	fs.StringVar(&f.metricsURLs, "metrics-url", "", "comma-separated base URLs of the nodes' metrics listeners (--metrics-listen), in --node-pids order: their Go memory figures are reported")
	fs.IntVar(&cfg.Clients, "clients", 100, "number of clients (each one an authenticated Socket.IO connection)")
	fs.IntVar(&cfg.RoomSize, "room-size", 10, "clients per room (1-64); relay pairs members 0-1, 2-3, … of each room")
	fs.StringVar(&cfg.Scenario, "scenario", scIdle, "idle, relay, chat, churn or storm (see above)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "relay: messages/s in total; chat: messages/s per room; churn: cycles/s in total")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", 10*time.Second, "interval of each client's heartbeat (with ack) during the scenario; 0 = none")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of the scenario phase (after every client is in); bounded, the run then stops by itself")
	fs.DurationVar(&cfg.Drain, "drain", 3*time.Second, "after sending stops, wait at most this long for in-flight deliveries before counting loss")
	fs.StringVar(&f.privateKey, "private-key", "", "PEM RSA private key that signs the clients' RS256 tokens (loadgen keygen writes one); required")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", 2*time.Hour, "validity of the signed tokens")
	fs.StringVar(&cfg.Audience, "audience", "switchboard-bench", "aud claim of the signed tokens: the node's --jwt-audience")
	fs.StringVar(&f.sourceAddrs, "source-addrs", "", "comma-separated local source IPs, e.g. 127.0.0.2,127.0.0.3, or a range 127.0.0.2+8 (8 addresses from .2); clients use them round-robin (each has ~28k ports)")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 200, "connections being set up (dial + join) at the same time (storm: all)")
	fs.Float64Var(&cfg.ConnectRate, "connect-rate", 0, "new connections per second during setup (0 = as fast as --dial-concurrency allows)")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", 30*time.Second, "timeout of one dial + handshake, and of one join_room ack")
	fs.StringVar(&f.prefix, "prefix", "", "prefix of user and room ids (default: random, so runs never meet)")
	fs.IntVar(&cfg.PayloadBytes, "payload-bytes", 100, "padding added to each relay sdp/candidate or chat content (the marker adds ~30 bytes)")
	fs.IntVar(&cfg.Workers, "workers", 4, "sender goroutines per process (each paces rate/workers)")
	fs.DurationVar(&f.progress, "progress", 2*time.Second, "interval of the progress lines on stderr; 0 = none")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON on stdout instead of text")
	fs.IntVar(&f.procs, "procs", 1, "loader processes to split the clients over (whole rooms each; source addresses are divided among them)")
	fs.StringVar(&f.nodePIDs, "node-pids", "", "comma-separated pids of the node processes, in --url order: their RSS (before, connected, end) and CPU use during the scenario are reported")
	fs.BoolVar(&f.child, "child", false, "internal: run as a child of --procs")
	fs.IntVar(&f.clientOffset, "client-offset", 0, "internal: global index of the first client (children of --procs)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var err error
	if cfg.URLs, err = parseURLs("url", f.urls); err != nil {
		return err
	}
	var metricsURLs []string
	if f.metricsURLs != "" {
		if metricsURLs, err = parseURLs("metrics-url", f.metricsURLs); err != nil {
			return err
		}
	}
	if cfg.SourceAddrs, err = parseAddrs(f.sourceAddrs); err != nil {
		return err
	}
	switch cfg.Scenario {
	case scIdle, scRelay, scChat, scChurn, scStorm:
	default:
		return fmt.Errorf("--scenario %q: want idle, relay, chat, churn or storm", cfg.Scenario)
	}
	if cfg.RoomSize < 1 || cfg.RoomSize > 64 {
		return fmt.Errorf("--room-size must be 1-64 (delivery tracking uses one bit per member)")
	}
	if cfg.Clients < 1 {
		return fmt.Errorf("--clients must be at least 1")
	}
	if cfg.Duration > 2*time.Hour {
		return fmt.Errorf("--duration is capped at 2h")
	}
	if (cfg.Scenario == scRelay || cfg.Scenario == scChat || cfg.Scenario == scChurn) && cfg.Rate <= 0 {
		return fmt.Errorf("--scenario %s needs --rate > 0", cfg.Scenario)
	}
	if f.privateKey == "" {
		return fmt.Errorf("--private-key is required (create one with `loadgen keygen --out DIR` and start the node with --jwt-public-key DIR/public.pem)")
	}
	if cfg.Key, err = loadPrivateKey(f.privateKey); err != nil {
		return err
	}
	if f.prefix == "" {
		var b [3]byte
		_, _ = rand.Read(b[:])
		f.prefix = "lg" + hex.EncodeToString(b[:]) + "-"
	}
	cfg.Prefix = f.prefix
	cfg.ClientOffset = f.clientOffset
	cfg.Progress = f.progress
	cfg.ProgressOut = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var rep *report
	if f.procs > 1 && !f.child {
		if rep, err = runParent(ctx, cfg, f, args, metricsURLs); err != nil {
			return err
		}
	} else {
		if lim := fdLimit(); lim > 0 && uint64(cfg.Clients)+100 > lim {
			fmt.Fprintf(os.Stderr, "loadgen: warning: %d clients need more sockets than the open-file limit %d allows in one process; use --procs\n", cfg.Clients, lim)
		}
		nw := &nodeWatch{pids: parsePIDs(f.nodePIDs), metricsURLs: metricsURLs}
		if f.child {
			cfg.barrier = childBarrier()
		} else {
			cfg.barrier = func(phase string) { nw.at(phase) }
		}
		rep = newRunner(cfg).run(ctx)
		if !f.child {
			rep.NodeStats = nw.stats(rep.ConnsPerNode)
			rep.BusTiming = busTiming(nw.goMem, nw.endMem)
		}
	}
	rep.CPUs = runtime.NumCPU()
	if f.jsonOut || f.child {
		if !f.child {
			rep.Histograms = nil
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.writeText(os.Stdout)
	return nil
}

func (w *nodeWatch) at(phase string) {
	switch phase {
	case "tokens":
		w.before = w.sample()
	case "connected":
		w.setup = w.sample()
		w.goMem = nil
		for i := range w.pids {
			if i < len(w.metricsURLs) {
				w.goMem = append(w.goMem, scrapeGoMem(w.metricsURLs[i]))
			}
		}
	case "end":
		w.ends = w.sample()
		w.endMem = nil
		for i := range w.pids {
			if i < len(w.metricsURLs) {
				w.endMem = append(w.endMem, scrapeGoMem(w.metricsURLs[i]))
			}
		}
	}
}

// childBarrier tells the parent which phase this child reached and waits for "go".
func childBarrier() func(string) {
	in := bufio.NewReader(os.Stdin)
	return func(phase string) {
		fmt.Fprintf(os.Stderr, "@@barrier %s\n", phase)
		if _, err := in.ReadString('\n'); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen child: parent gone; stopping")
			os.Exit(1)
		}
	}
}

var phases = []string{"tokens", "connected", "end"}

// runParent starts --procs children with a share of whole rooms each, aligns them at
// every phase (so a join storm starts at the same instant everywhere and node samples
// see every client), and merges their reports.
func runParent(ctx context.Context, cfg config, f cliFlags, args []string, metricsURLs []string) (*report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	rooms := (cfg.Clients + cfg.RoomSize - 1) / cfg.RoomSize
	procs := min(f.procs, rooms)
	nw := &nodeWatch{pids: parsePIDs(f.nodePIDs), metricsURLs: metricsURLs}
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   strings.Builder
		phase int // phases reached
	}
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		children []*child
		released = 0 // phases released
	)
	offset := 0
	for i := 0; i < procs; i++ {
		myRooms := rooms / procs
		if i < rooms%procs {
			myRooms++
		}
		n := min(myRooms*cfg.RoomSize, cfg.Clients-offset)
		rate := cfg.Rate
		if cfg.Scenario == scRelay || cfg.Scenario == scChurn {
			rate = cfg.Rate * float64(n) / float64(cfg.Clients)
		}
		var addrs []string
		for j, a := range cfg.SourceAddrs {
			if len(cfg.SourceAddrs) < procs || j%procs == i {
				addrs = append(addrs, a.String())
			}
		}
		cargs := append([]string{}, args...)
		cargs = append(cargs, "--child", "--procs=1", "--node-pids=", "--clients="+strconv.Itoa(n),
			"--client-offset="+strconv.Itoa(offset), "--rate="+strconv.FormatFloat(rate, 'f', -1, 64),
			"--prefix="+cfg.Prefix, "--source-addrs="+strings.Join(addrs, ","))
		offset += n
		c := &child{cmd: exec.Command(exe, cargs...)}
		c.cmd.Stdout = &c.out
		c.stdin, _ = c.cmd.StdinPipe()
		stderr, _ := c.cmd.StderrPipe()
		if err := c.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start loader child: %w", err)
		}
		children = append(children, c)
		go func(i int, c *child) {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "@@barrier ") {
					mu.Lock()
					c.phase++
					cond.Broadcast()
					mu.Unlock()
					continue
				}
				if f.progress > 0 {
					fmt.Fprintf(os.Stderr, "[p%d] %s\n", i, line)
				}
			}
			mu.Lock()
			c.phase = len(phases) + 1 // exited: counts as past every barrier
			cond.Broadcast()
			mu.Unlock()
		}(i, c)
	}
	// Backstop: children bound themselves, but never let the parent wait forever.
	bound := 2*cfg.DialTimeout + cfg.Duration + cfg.Drain + 3*time.Minute + time.Duration(cfg.Clients)*time.Millisecond
	killer := time.AfterFunc(bound, func() {
		fmt.Fprintln(os.Stderr, "loadgen: children overran; killing them")
		for _, c := range children {
			_ = c.cmd.Process.Kill()
		}
	})
	defer killer.Stop()
	go func() {
		<-ctx.Done()
		for _, c := range children {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}()
	for released < len(phases) {
		mu.Lock()
		for {
			all := true
			for _, c := range children {
				if c.phase <= released {
					all = false
				}
			}
			if all {
				break
			}
			cond.Wait()
		}
		mu.Unlock()
		nw.at(phases[released])
		for _, c := range children {
			_, _ = io.WriteString(c.stdin, "go\n")
		}
		released++
	}
	rep := &report{Scenario: cfg.Scenario, Nodes: cfg.URLs, RoomSize: cfg.RoomSize, Rate: cfg.Rate, Processes: procs}
	var failed []string
	for i, c := range children {
		err := c.cmd.Wait()
		var cr report
		if jerr := json.Unmarshal([]byte(c.out.String()), &cr); jerr != nil {
			failed = append(failed, fmt.Sprintf("child %d: %v (report: %v)", i, err, jerr))
			continue
		}
		if i == 0 {
			rep.LoadAvgStart = cr.LoadAvgStart
		}
		rep.LoadAvgEnd = cr.LoadAvgEnd
		rep.merge(&cr)
	}
	if len(failed) == len(children) {
		return nil, fmt.Errorf("every loader child failed: %s", strings.Join(failed, "; "))
	}
	for _, f := range failed {
		fmt.Fprintln(os.Stderr, "loadgen:", f)
	}
	rep.finish()
	rep.NodeStats = nw.stats(rep.ConnsPerNode)
	rep.BusTiming = busTiming(nw.goMem, nw.endMem)
	return rep, nil
}

func parseURLs(flagName, s string) ([]string, error) {
	var out []string
	for _, u := range strings.Split(s, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		host := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
		if i := strings.IndexAny(host, "/"); i >= 0 {
			host = host[:i]
		}
		h, _, err := net.SplitHostPort(host)
		if err != nil {
			h = host
		}
		ip := net.ParseIP(strings.Trim(h, "[]"))
		if h == "localhost" {
			ip = net.IPv4(127, 0, 0, 1)
		}
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("--%s %s: only loopback targets (127.0.0.0/8, ::1, localhost) are allowed", flagName, u)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--%s: at least one node URL is required", flagName)
	}
	return out, nil
}

// parseAddrs reads "a,b,c" or "127.0.0.2+8".
func parseAddrs(s string) ([]net.IP, error) {
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n := 1
		if i := strings.IndexByte(part, '+'); i > 0 {
			var err error
			if n, err = strconv.Atoi(part[i+1:]); err != nil || n < 1 || n > 250 {
				return nil, fmt.Errorf("--source-addrs %q: count after + must be 1-250", part)
			}
			part = part[:i]
		}
		ip := net.ParseIP(part)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("--source-addrs %q: only loopback addresses", part)
		}
		for k := 0; k < n; k++ {
			v4 := ip.To4()
			if v4 == nil {
				out = append(out, ip)
				break
			}
			next := net.IPv4(v4[0], v4[1], v4[2], v4[3]+byte(k))
			if int(v4[3])+k > 254 {
				return nil, fmt.Errorf("--source-addrs %q: range leaves the last octet", part)
			}
			out = append(out, next)
		}
	}
	return out, nil
}

func parsePIDs(s string) []int {
	var out []int
	for _, p := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func fdLimit() uint64 {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	return rl.Cur
}

func loadPrivateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --private-key: %w", err)
	}
	k, err := jwt.ParseRSAPrivateKeyFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("parse --private-key %s: %w", path, err)
	}
	return k, nil
}

// keygen writes a fresh RSA 2048 key pair: private.pem (PKCS#1) for loadgen and
// public.pem (PKIX) for the node's --jwt-public-key.
func keygen(args []string) error {
	fs := flag.NewFlagSet("loadgen keygen", flag.ContinueOnError)
	out := fs.String("out", ".", "directory to write private.pem and public.pem into")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(filepath.Join(*out, "private.pem"), priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "public.pem"), pub, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s\n", filepath.Join(*out, "private.pem"), filepath.Join(*out, "public.pem"))
	return nil
}
