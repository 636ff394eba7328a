package server

import (
	"io"
	"net"
	"sync"
	"testing"
)

// BenchmarkLoopbackDelivery is the floor under every fan-out figure in docs/benchmarks.md:
// no WebSocket, no hub, no JSON — only the kernel work of one delivery as the node and the
// loader do it on loopback (a 150-byte write on one socket, a read of it on the peer),
// spread over 1,000 connections like a fan-out, on the same cores. ns/op is per delivery.
func BenchmarkLoopbackDelivery(b *testing.B) {
	const conns, size = 1000, 150
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var senders, receivers []net.Conn
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		senders, receivers = append(senders, s), append(receivers, c)
	}
	per := b.N/conns + 1
	var wg sync.WaitGroup
	for _, r := range receivers { // the loader: one reader per connection
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for range per {
				if _, err := io.ReadFull(r, buf); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	b.SetBytes(size)
	b.ResetTimer()
	msg := make([]byte, size)
	var sw sync.WaitGroup
	// The node: one write per delivery, round-robin over the connections (as a fan-out
	// reaches each member once), so each reader is usually asleep when its frame comes and
	// every delivery pays for a wake-up — a socket gets one frame at a time, not a stream.
	const writers = 4
	for w := range writers {
		sw.Add(1)
		go func() {
			defer sw.Done()
			for range per {
				for i := w; i < conns; i += writers {
					if _, err := senders[i].Write(msg); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	sw.Wait()
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(conns*per)/b.Elapsed().Seconds(), "deliveries/s")
	for i := range conns {
		senders[i].Close()
		receivers[i].Close()
	}
}
