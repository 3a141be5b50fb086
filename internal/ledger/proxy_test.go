package ledger

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpProxy stands between the ledger and PostgreSQL so that a test can
// make the database unreachable (Down: connections cut and refused) or
// hung (Pause: connections open but silent) without touching the shared
// server.
type tcpProxy struct {
	t      testing.TB
	addr   string // the proxy's fixed address
	target string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	paused bool
	resume chan struct{} // closed when a pause ends
	wg     sync.WaitGroup
}

func newProxy(t testing.TB, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &tcpProxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.pipe(c) })
		}
	})
}

// gate waits while the proxy is paused; it reports false when the
// connection was cut meanwhile.
func (p *tcpProxy) gate(c net.Conn) bool {
	for {
		p.mu.Lock()
		_, alive := p.conns[c]
		paused, resume := p.paused, p.resume
		p.mu.Unlock()
		if !alive {
			return false
		}
		if !paused {
			return true
		}
		select {
		case <-resume:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer p.forget(c)
	if !p.gate(c) {
		return
	}
	u, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	if _, alive := p.conns[c]; !alive {
		p.mu.Unlock()
		u.Close()
		return
	}
	p.conns[u] = struct{}{}
	p.mu.Unlock()
	defer p.forget(u)
	done := make(chan struct{}, 2)
	copyGated := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if !p.gate(c) {
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go copyGated(u, c)
	go copyGated(c, u)
	<-done
	c.Close()
	u.Close()
	<-done
}

func (p *tcpProxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Down closes the listener and cuts every connection: the database is
// unreachable (connection refused) until Up.
func (p *tcpProxy) Down() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// Up listens again on the same address.
func (p *tcpProxy) Up() {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(p.t, err)
	p.serve(ln)
}

// Pause stops forwarding bytes: the database hangs.
func (p *tcpProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused, p.resume = true, make(chan struct{})
	}
}

// Resume forwards bytes again.
func (p *tcpProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resume)
	}
}

func (p *tcpProxy) close() {
	p.Resume()
	p.Down()
	p.wg.Wait()
}
