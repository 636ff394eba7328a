package test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// cutProxy is a TCP proxy in front of one node at a time, able to break the network
// under its clients: cut closes every connection it carries (both sides, as a network
// drop that the node notices at once), switchTo sends new connections to another node,
// and block refuses new connections for a while.
type cutProxy struct {
	ln net.Listener

	mu           sync.Mutex
	target       string // host:port
	conns        map[net.Conn]struct{}
	blockedUntil time.Time
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.acceptLoop()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) switchTo(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// cut closes every connection the proxy carries.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *cutProxy) block(d time.Duration) {
	p.mu.Lock()
	p.blockedUntil = time.Now().Add(d)
	p.mu.Unlock()
}

func (p *cutProxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	p.mu.Lock()
	target, blocked := p.target, time.Now().Before(p.blockedUntil)
	p.mu.Unlock()
	if blocked {
		c.Close()
		return
	}
	u, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}
