package test

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lbProxy is a tiny non-sticky TCP load balancer: each new connection goes to the next
// backend whose /readyz answers 200, like a Kubernetes Service with readiness probes.
type lbProxy struct {
	ln       net.Listener
	backends []string // host:port
	ready    []atomic.Bool
	next     atomic.Uint64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLB(t *testing.T, backends ...string) *lbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lbProxy{ln: ln, backends: backends, ready: make([]atomic.Bool, len(backends)), stop: make(chan struct{})}
	p.probe()
	p.wg.Add(2)
	go p.probeLoop()
	go p.acceptLoop()
	t.Cleanup(func() {
		close(p.stop)
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *lbProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *lbProxy) probe() {
	c := http.Client{Timeout: 500 * time.Millisecond}
	for i, b := range p.backends {
		resp, err := c.Get("http://" + b + "/readyz")
		ok := err == nil && resp.StatusCode == 200
		if resp != nil {
			resp.Body.Close()
		}
		p.ready[i].Store(ok)
	}
}

func (p *lbProxy) probeLoop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case <-time.After(100 * time.Millisecond):
			p.probe()
		}
	}
}

func (p *lbProxy) pick() string {
	for range p.backends {
		i := int(p.next.Add(1)-1) % len(p.backends)
		if p.ready[i].Load() {
			return p.backends[i]
		}
	}
	return ""
}

func (p *lbProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *lbProxy) forward(c net.Conn) {
	defer c.Close()
	b := p.pick()
	if b == "" {
		return
	}
	u, err := net.Dial("tcp", b)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}
