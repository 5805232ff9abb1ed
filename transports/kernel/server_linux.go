package kernel

import (
	"context"
	"fmt"
	"net"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/netem"
)

// ServerDialer returns a dial.Func whose sockets live in the server
// namespace: they reach servers listening there without crossing the
// wire, unshaped (a backend that is not a device, say).
func (w *Wire) ServerDialer() dial.Func {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNS(w.srvNS, func() (err error) {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("kernel: dial %s in %s: %w", addr, w.srvName, err)
		}
		return c, nil
	}
}

// InServer runs fn on an OS thread switched into the server namespace.
// Sockets fn creates before it returns (listeners, say) stay in that
// namespace; goroutines fn starts do not run there.
func (w *Wire) InServer(fn func() error) error {
	return inNS(w.srvNS, fn)
}

// DeviceStats returns the counters of device i's Path; zero before the
// device's first packet.
func (w *Wire) DeviceStats(i int) netem.Stats {
	w.mu.Lock()
	p := w.paths[i]
	w.mu.Unlock()
	if p == nil {
		return netem.Stats{}
	}
	return p.Stats()
}
