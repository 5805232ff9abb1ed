//go:build !linux

package kernel

import (
	"context"
	"net"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/netem"
)

// ServerDialer returns a dial.Func that fails with ErrNeedsLinux.
func (w *Wire) ServerDialer() dial.Func {
	return func(context.Context, string, string) (net.Conn, error) { return nil, ErrNeedsLinux }
}

// InServer returns ErrNeedsLinux.
func (w *Wire) InServer(func() error) error { return ErrNeedsLinux }

// DeviceStats returns zero counters.
func (w *Wire) DeviceStats(int) netem.Stats { return netem.Stats{} }
