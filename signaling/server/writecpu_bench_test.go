package server

import (
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loopbackReaderEnv names the address a re-executed test binary dials as the reader
// process of BenchmarkWriteCPUPerDelivery.
const loopbackReaderEnv = "SWITCHBOARD_LOOPBACK_READER"

const writeCPUConns = 1000

// runLoopbackReader is the loader's side of BenchmarkWriteCPUPerDelivery: when the
// environment names an address, it opens writeCPUConns connections to it, reads them until
// its stdin closes, and reports true (the process then exits).
func runLoopbackReader() bool {
	addr := os.Getenv(loopbackReaderEnv)
	if addr == "" {
		return false
	}
	for range writeCPUConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			os.Exit(1)
		}
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return true
}

// processCPU is this process's user + system CPU time (/proc/self/stat, 10 ms ticks).
func processCPU(b *testing.B) time.Duration {
	st, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		b.Skip("no /proc/self/stat:", err)
	}
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+sys) * 10 * time.Millisecond
}

// BenchmarkWriteCPUPerDelivery is the CPU floor of a delivery as the node makes it at an
// ordinary rate: a 150-byte write(2) to one of 1,000 loopback sockets whose reader is
// another process (as the load generator is), ten writes (a room of 10) every
// millisecond, i.e. 10,000 deliveries/s. It reports this process's CPU time per write
// (cpu-µs/delivery), which includes the kernel's TCP work for the receiver and its
// wake-up; nothing else runs here (no WebSocket, JSON or hub). "write" is one write(2) per
// delivery, as the node does; "io_uring_batch_of_10" submits a fan-out's ten sends with
// one system call (where io_uring is available). Run it with -benchtime 100000x (10 s
// each); docs/benchmarks.md compares the node's figure with it.
func BenchmarkWriteCPUPerDelivery(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	reader := exec.Command(os.Args[0], "-test.run=^$")
	reader.Env = append(os.Environ(), loopbackReaderEnv+"="+ln.Addr().String())
	stdin, err := reader.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := reader.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = reader.Wait() }()
	conns := make([]net.Conn, 0, writeCPUConns)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range writeCPUConns {
		c, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	msg := make([]byte, 150)
	b.Run("write", func(b *testing.B) {
		paced(b, func(first int) {
			for i := range 10 {
				if _, err := conns[(first+i)%len(conns)].Write(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("io_uring_batch_of_10", func(b *testing.B) {
		ring, err := newIOURing(64)
		if err != nil {
			b.Skip("io_uring:", err)
		}
		defer ring.close()
		fds := make([]int, len(conns))
		for i, c := range conns {
			rc, err := c.(*net.TCPConn).SyscallConn()
			if err != nil {
				b.Fatal(err)
			}
			_ = rc.Control(func(fd uintptr) { fds[i] = int(fd) })
		}
		res := make([]int32, 10)
		paced(b, func(first int) {
			if err := ring.sendAll(fds[first:first+10], msg, res); err != nil {
				b.Fatal(err)
			}
			for _, n := range res {
				if int(n) != len(msg) {
					b.Fatalf("send: %d", n)
				}
			}
		})
	})
}

// paced runs fanOut (ten deliveries from connection first on) every millisecond until
// b.N deliveries are done, and reports the CPU time per delivery.
func paced(b *testing.B, fanOut func(first int)) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	cpu0 := processCPU(b)
	first := 0
	for done := 0; done < b.N; done += 10 {
		<-tick.C
		fanOut(first)
		first = (first + 10) % writeCPUConns
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/delivery")
}
