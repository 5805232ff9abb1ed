package dial

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// NAT puts a carrier-grade NAT's UDP binding timeout in front of d: once
// a connection has carried no datagram either way for idle, the NAT has
// dropped its binding, and the next datagram the device sends leaves
// from a new source port (a new socket), as it would through a NAT that
// maps it afresh. The server then sees a peer it does not know: a DTLS
// session or an Observe registration tied to the old address is gone.
// rebound is called each time, from the writing goroutine; it may be nil.
// Other networks than UDP pass through d untouched.
func NAT(d Func, idle time.Duration, rebound func()) Func {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d(ctx, network, addr)
		if err != nil || idle <= 0 || !isUDP(network) {
			return c, err
		}
		n := &natConn{d: d, network: network, addr: addr, idle: idle, rebound: rebound}
		n.cur.Store(&c)
		n.touch()
		return n, nil
	}
}

func isUDP(network string) bool {
	return network == "udp" || network == "udp4" || network == "udp6"
}

// rebindTimeout bounds the dial of a new socket for a rebinding.
const rebindTimeout = 10 * time.Second

// natConn is a UDP conn whose socket a rebinding replaces. Reads run on
// the current socket and move to the next when a rebinding closed theirs.
type natConn struct {
	d             Func
	network, addr string
	idle          time.Duration
	rebound       func()

	cur    atomic.Pointer[net.Conn]
	last   atomic.Int64 // unix nanoseconds of the last datagram either way
	closed atomic.Bool

	mu       sync.Mutex // serialises rebindings, deadline changes and Close
	rdl, wdl time.Time  // deadlines, carried to a new socket
}

func (n *natConn) conn() net.Conn { return *n.cur.Load() }

func (n *natConn) touch() { n.last.Store(time.Now().UnixNano()) }

func (n *natConn) expired() bool {
	return time.Duration(time.Now().UnixNano()-n.last.Load()) >= n.idle
}

// Write sends b, from a new socket when the binding has expired.
func (n *natConn) Write(b []byte) (int, error) {
	if n.expired() {
		if err := n.rebind(); err != nil {
			return 0, err
		}
	}
	k, err := n.conn().Write(b)
	if err == nil {
		n.touch()
	}
	return k, err
}

// rebind replaces the socket; the old one's pending read moves over.
func (n *natConn) rebind() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.expired() || n.closed.Load() {
		return nil // another writer rebound it first, or Close won
	}
	ctx, cancel := context.WithTimeout(context.Background(), rebindTimeout)
	c, err := n.d(ctx, n.network, n.addr)
	cancel()
	if err != nil {
		return err
	}
	_ = c.SetReadDeadline(n.rdl)
	_ = c.SetWriteDeadline(n.wdl)
	old := n.conn()
	n.cur.Store(&c)
	n.touch()
	_ = old.Close()
	if n.rebound != nil {
		n.rebound()
	}
	return nil
}

// Read reads from the current socket, following it across rebindings.
func (n *natConn) Read(b []byte) (int, error) {
	for {
		c := n.conn()
		k, err := c.Read(b)
		if err == nil {
			n.touch()
			return k, nil
		}
		if n.closed.Load() || n.conn() == c {
			return k, err
		}
	}
}

// Close closes the current socket.
func (n *natConn) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed.Store(true)
	return n.conn().Close()
}

// LocalAddr is the current socket's: it changes with each rebinding.
func (n *natConn) LocalAddr() net.Addr  { return n.conn().LocalAddr() }
func (n *natConn) RemoteAddr() net.Addr { return n.conn().RemoteAddr() }

func (n *natConn) SetDeadline(t time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rdl, n.wdl = t, t
	return n.conn().SetDeadline(t)
}

func (n *natConn) SetReadDeadline(t time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rdl = t
	return n.conn().SetReadDeadline(t)
}

func (n *natConn) SetWriteDeadline(t time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wdl = t
	return n.conn().SetWriteDeadline(t)
}
