package kernel

import (
	"errors"
	"net/netip"

	"github.com/m2msim/m2msim/transports/netem"
)

// ErrNeedsLinux is returned by Open on systems other than Linux.
var ErrNeedsLinux = errors.New("kernel: the packet wire needs Linux (network namespaces and TUN)")

// ErrPrivilege is wrapped by Open's error when the process may not create
// namespaces or TUN devices: it needs root (CAP_SYS_ADMIN and
// CAP_NET_ADMIN).
var ErrPrivilege = errors.New("kernel: the packet wire needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)")

// Config describes a wire. The zero value is a useful default.
type Config struct {
	// Devices is the range device addresses come from: device i has the
	// (i+1)-th address of it. Default 10.77.0.0/16.
	Devices netip.Prefix
	// Server is the server side's subnet; the server's address is its
	// first host. Default 10.78.0.0/24. It must not overlap Devices.
	Server netip.Prefix
	// Link returns device i's link (Up from the device); nil, or a zero
	// Link, passes packets through unshaped. Called once per device, on
	// its first packet.
	Link func(device int) netem.Link
	// Seed seeds every device's Path, per device and direction.
	Seed uint64
	// Shards is the number of due-time queues (0: GOMAXPROCS).
	Shards int
}

// Default address ranges.
var (
	DefaultDevices = netip.MustParsePrefix("10.77.0.0/16")
	DefaultServer  = netip.MustParsePrefix("10.78.0.0/24")
)

func (c Config) withDefaults() Config {
	if !c.Devices.IsValid() {
		c.Devices = DefaultDevices
	}
	if !c.Server.IsValid() {
		c.Server = DefaultServer
	}
	c.Devices, c.Server = c.Devices.Masked(), c.Server.Masked()
	return c
}

// validate checks the ranges: IPv4, room for a device, no overlap.
func (c Config) validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		p    netip.Prefix
	}{{"devices", c.Devices}, {"server", c.Server}} {
		if !p.p.Addr().Is4() || p.p.Bits() > 30 {
			errs = append(errs, errors.New("kernel: "+p.name+" range "+p.p.String()+" must be IPv4 and /30 or wider"))
		}
	}
	if c.Devices.Overlaps(c.Server) {
		errs = append(errs, errors.New("kernel: devices range "+c.Devices.String()+" overlaps server range "+c.Server.String()))
	}
	return errors.Join(errs...)
}

// hostCount is the number of usable host addresses in p (IPv4).
func hostCount(p netip.Prefix) int {
	return 1<<(32-p.Bits()) - 2
}

// nthHost is the (i+1)-th host address of p, i from 0.
func nthHost(p netip.Prefix, i int) (netip.Addr, bool) {
	if i < 0 || i >= hostCount(p) {
		return netip.Addr{}, false
	}
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i) + 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// hostIndex is the inverse of nthHost: a's index in p, or false.
func hostIndex(p netip.Prefix, a netip.Addr) (int, bool) {
	if !a.Is4() || !p.Contains(a) {
		return 0, false
	}
	x, base := a.As4(), p.Addr().As4()
	v := uint32(x[0])<<24 | uint32(x[1])<<16 | uint32(x[2])<<8 | uint32(x[3])
	w := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	i := int(v-w) - 1
	if i < 0 || i >= hostCount(p) {
		return 0, false
	}
	return i, true
}
