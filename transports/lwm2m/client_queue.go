package lwm2m

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/m2msim/m2msim/transports/dial"
)

// gate is the device's radio as queue mode sees it: while asleep, the
// datagrams that reach the socket are read and dropped, as a radio in
// PSM never receives them. The server's requests go unanswered and it
// retransmits, or queues them as it should for a queue-mode device.
type gate struct {
	net.Conn
	asleep  atomic.Bool
	dropped atomic.Uint64
}

// gated wraps the conns d returns in a gate, kept in *g.
func gated(d dial.Func, g **gate) dial.Func {
	if d == nil {
		var nd net.Dialer
		d = nd.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		*g = &gate{Conn: c}
		return *g, nil
	}
}

// Read returns the next datagram received while awake.
func (g *gate) Read(b []byte) (int, error) {
	for {
		n, err := g.Conn.Read(b)
		if err != nil || !g.asleep.Load() {
			return n, err
		}
		g.dropped.Add(1)
	}
}

func (g *gate) sleep() { g.asleep.Store(true) }

func (g *gate) wake() { g.asleep.Store(false) }
