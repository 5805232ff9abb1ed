package netem

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// runShaper runs s until the returned stop is called; stop waits for Run
// to return.
func runShaper(t *testing.T, s *Shaper) (stop func()) {
	t.Helper()
	return runShaperB(t, s)
}

func runShaperB(t testing.TB, s *Shaper) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	}
}

// memAddr names an in-memory datagram endpoint.
type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// memNet is an in-memory datagram network for synctest: no real I/O, so
// every wait is durable and fake time is exact.
type memNet struct {
	mu    sync.Mutex
	conns map[string]*memConn
}

type datagram struct {
	b    []byte
	from net.Addr
}

// memConn is a net.PacketConn on a memNet with working read deadlines.
type memConn struct {
	net     *memNet
	addr    memAddr
	mu      sync.Mutex // guards q, rdl, closed
	q       []datagram
	rdl     time.Time
	closed  bool
	wake    chan struct{} // cap 1: data, deadline change or close
	written []time.Time   // when each datagram was written to it
}

func (n *memNet) listen(name string) *memConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns == nil {
		n.conns = map[string]*memConn{}
	}
	c := &memConn{net: n, addr: memAddr(name), wake: make(chan struct{}, 1)}
	n.conns[name] = c
	return c
}

func (c *memConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, nil, net.ErrClosed
		case len(c.q) > 0:
			d := c.q[0]
			c.q = c.q[1:]
			c.mu.Unlock()
			return copy(b, d.b), d.from, nil
		case !c.rdl.IsZero() && !time.Now().Before(c.rdl):
			c.mu.Unlock()
			return 0, nil, os.ErrDeadlineExceeded
		}
		var expire <-chan time.Time
		if !c.rdl.IsZero() {
			t := time.NewTimer(time.Until(c.rdl))
			defer t.Stop()
			expire = t.C
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-expire:
		}
	}
}

func (c *memConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.net.mu.Lock()
	dst := c.net.conns[addr.String()]
	c.net.mu.Unlock()
	if dst == nil {
		return len(b), nil
	}
	dst.mu.Lock()
	dst.q = append(dst.q, datagram{append([]byte(nil), b...), c.addr})
	dst.written = append(dst.written, time.Now())
	dst.mu.Unlock()
	dst.signal()
	return len(b), nil
}

func (c *memConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return c.addr }

func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

func (c *memConn) arrivals() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.written...)
}
