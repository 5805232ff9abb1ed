//go:build !linux

package kernel

import (
	"net"
	"net/netip"
	"os/exec"

	"github.com/m2msim/m2msim/transports/dial"
)

// Qdisc is a kernel-qdisc network; on this system it cannot be opened.
type Qdisc struct{}

// OpenQdisc returns ErrNeedsLinux.
func OpenQdisc(QdiscConfig) (*Qdisc, error) { return nil, ErrNeedsLinux }

// NetemAvailable returns ErrNeedsLinux.
func NetemAvailable() error { return ErrNeedsLinux }

// DeviceNS returns "".
func (q *Qdisc) DeviceNS() string { return "" }

// ServerNS returns "".
func (q *Qdisc) ServerNS() string { return "" }

// ServerAddr returns the zero address.
func (q *Qdisc) ServerAddr() netip.Addr { return netip.Addr{} }

// DeviceAddr returns ErrNeedsLinux.
func (q *Qdisc) DeviceAddr(int) (netip.Addr, error) { return netip.Addr{}, ErrNeedsLinux }

// Dialer returns a dial.Func that fails with ErrNeedsLinux.
func (q *Qdisc) Dialer(int) dial.Func { return (*Wire)(nil).Dialer(0) }

// ListenPacket returns ErrNeedsLinux.
func (q *Qdisc) ListenPacket(int, int) (net.PacketConn, error) { return nil, ErrNeedsLinux }

// Listen returns ErrNeedsLinux.
func (q *Qdisc) Listen(string, string) (net.Listener, error) { return nil, ErrNeedsLinux }

// ListenPacketServer returns ErrNeedsLinux.
func (q *Qdisc) ListenPacketServer(string, string) (net.PacketConn, error) {
	return nil, ErrNeedsLinux
}

// Start returns ErrNeedsLinux.
func (q *Qdisc) Start(*exec.Cmd) error { return ErrNeedsLinux }

// Close does nothing.
func (q *Qdisc) Close() error { return nil }
