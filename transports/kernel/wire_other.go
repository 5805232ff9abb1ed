//go:build !linux

package kernel

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"syscall"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/netem"
)

// NamePrefix starts the name of every namespace m2msim creates.
const NamePrefix = "m2m-"

// Wire is a userspace netem wire between namespaces; on this system it
// cannot be opened.
type Wire struct{}

// Open returns ErrNeedsLinux.
func Open(Config) (*Wire, error) { return nil, ErrNeedsLinux }

// RemoveLeftovers has nothing to remove here.
func RemoveLeftovers() ([]string, error) { return nil, nil }

// Run returns ErrNeedsLinux.
func (w *Wire) Run(context.Context) error { return ErrNeedsLinux }

// Close does nothing.
func (w *Wire) Close() error { return nil }

// DeviceNS returns "".
func (w *Wire) DeviceNS() string { return "" }

// ServerNS returns "".
func (w *Wire) ServerNS() string { return "" }

// ServerAddr returns the zero address.
func (w *Wire) ServerAddr() netip.Addr { return netip.Addr{} }

// DeviceAddr returns ErrNeedsLinux.
func (w *Wire) DeviceAddr(int) (netip.Addr, error) { return netip.Addr{}, ErrNeedsLinux }

// Stats returns zero counters.
func (w *Wire) Stats() netem.Stats { return netem.Stats{} }

// Unrouted returns 0.
func (w *Wire) Unrouted() int64 { return 0 }

// Dialer returns a dial.Func that fails with ErrNeedsLinux.
func (w *Wire) Dialer(int) dial.Func {
	return func(context.Context, string, string) (net.Conn, error) { return nil, ErrNeedsLinux }
}

// ListenPacket returns ErrNeedsLinux.
func (w *Wire) ListenPacket(int, int) (net.PacketConn, error) { return nil, ErrNeedsLinux }

// Listen returns ErrNeedsLinux.
func (w *Wire) Listen(string, string) (net.Listener, error) { return nil, ErrNeedsLinux }

// ListenPacketServer returns ErrNeedsLinux.
func (w *Wire) ListenPacketServer(string, string) (net.PacketConn, error) {
	return nil, ErrNeedsLinux
}

// Start returns ErrNeedsLinux.
func (w *Wire) Start(*exec.Cmd) error { return ErrNeedsLinux }

// TCPStats returns ErrNeedsLinux.
func TCPStats(syscall.Conn) (TCPInfo, error) { return TCPInfo{}, ErrNeedsLinux }
