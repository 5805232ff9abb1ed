package lwm2m

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
)

// gate is the device's radio as the server's datagrams meet it.
//
// Without a Hear function it is queue mode's simple radio: while asleep,
// the datagrams that reach the socket are read and dropped, as a radio in
// PSM never receives them; the server's requests go unanswered and it
// retransmits, or queues them as it should for a queue-mode device.
//
// With one, the device's radio decides when it hears each datagram: one
// that arrives between eDRX paging windows, or while the device is in
// PSM, is held (as the network buffers it) until the device listens
// again, or until the device sends, which connects it at once.
type gate struct {
	net.Conn
	hear     func(arrived, lastSent time.Time) time.Time
	asleep   atomic.Bool
	dropped  atomic.Uint64
	held     atomic.Uint64
	lastSent atomic.Int64 // unix nanoseconds of the latest datagram written
	sent     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// gated wraps the conns d returns in a gate, kept in *g.
func gated(d dial.Func, hear func(arrived, lastSent time.Time) time.Time, g **gate) dial.Func {
	if d == nil {
		var nd net.Dialer
		d = nd.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		*g = &gate{Conn: c, hear: hear}
		if hear != nil {
			(*g).sent, (*g).done = make(chan struct{}, 1), make(chan struct{})
		}
		return *g, nil
	}
}

// Read returns the next datagram the device hears.
func (g *gate) Read(b []byte) (int, error) {
	for {
		n, err := g.Conn.Read(b)
		switch {
		case err != nil:
			return n, err
		case g.hear != nil:
			if !g.await(time.Now()) {
				return 0, net.ErrClosed
			}
			return n, nil
		case !g.asleep.Load():
			return n, nil
		}
		g.dropped.Add(1)
	}
}

// await holds a datagram that arrived at arrived until the device hears
// it; false when the conn closed meanwhile. Hear is asked once, and again
// only when the device sends, which connects it.
func (g *gate) await(arrived time.Time) bool {
	at := g.hear(arrived, time.Unix(0, g.lastSent.Load()))
	if wait := time.Until(at); wait > 0 {
		g.held.Add(1)
		t := time.NewTimer(wait)
		defer t.Stop()
		for time.Now().Before(at) {
			select {
			case <-t.C:
				return true
			case <-g.sent:
				at = g.hear(time.Now(), time.Unix(0, g.lastSent.Load()))
				t.Reset(time.Until(at))
			case <-g.done:
				return false
			}
		}
	}
	return true
}

// Write sends a datagram: an uplink, which connects the device.
func (g *gate) Write(b []byte) (int, error) {
	n, err := g.Conn.Write(b)
	if g.hear != nil {
		g.lastSent.Store(time.Now().UnixNano())
		select {
		case g.sent <- struct{}{}:
		default:
		}
	}
	return n, err
}

// Close ends a held datagram's wait, then closes the socket.
func (g *gate) Close() error {
	if g.done != nil {
		g.once.Do(func() { close(g.done) })
	}
	return g.Conn.Close()
}

func (g *gate) sleep() { g.asleep.Store(true) }

func (g *gate) wake() { g.asleep.Store(false) }
