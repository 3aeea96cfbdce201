package testenv

import (
	"net"
	"sync"
	"testing"
)

// TCPProxy forwards TCP connections to target until it Hangs: then no byte
// goes through in either direction and new connections get no answer, as
// when the database host stops answering. Heal lets everything through
// again, held bytes included, as TCP does once a partition ends.
type TCPProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	open   chan struct{} // closed while the proxy forwards
	conns  map[net.Conn]bool
	closed bool
}

// StartTCPProxy listens on a free loopback port and forwards to target
// until the test ends.
func StartTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &TCPProxy{ln: ln, target: target, open: make(chan struct{}), conns: map[net.Conn]bool{}}
	close(p.open)
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.Heal()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's address, host:port.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// Hang stops forwarding.
func (p *TCPProxy) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

// Heal forwards again.
func (p *TCPProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// gate returns a channel that is closed while the proxy forwards.
func (p *TCPProxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

// track remembers c, to close it at the end; false when the proxy is
// closed already (c is then closed).
func (p *TCPProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *TCPProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// forward connects client to the target once the proxy forwards, and
// copies both ways until either side closes.
func (p *TCPProxy) forward(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	<-p.gate()
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pipe(client, server)
	}()
	p.pipe(server, client)
	<-done
}

// pipe copies src to dst, holding what it read while the proxy hangs, and
// closes both when either side ends.
func (p *TCPProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		<-p.gate()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
