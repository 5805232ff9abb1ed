// Package dial holds the dialer seam every m2msim transport uses to open
// its sockets, and dialers that spread a fleet over many local source
// addresses.
//
// No protocol session opens a socket by itself: it is given a Func. Link
// shaping wraps a Func; fleets larger than one address's ephemeral port
// range (about 28k on Linux) dial through SourcePool.
package dial

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
)

// Func is the dialer seam every transport uses. Link shaping wraps it later.
// It has the signature of net.Dialer.DialContext.
type Func func(ctx context.Context, network, addr string) (net.Conn, error)

// MaxLoopbackSources is the most addresses LoopbackSources hands out.
const MaxLoopbackSources = 65000

// SourcePool returns a Func that spreads connections round-robin over local
// source addresses (net.Dialer.LocalAddr), so a fleet is not capped by one
// address's ~28k ephemeral ports. An empty pool dials normally.
//
// Each address must be of the same family as the addresses dialed: a pool
// of 127.0.0.x sources cannot reach ::1.
func SourcePool(addrs []netip.Addr) Func {
	if len(addrs) == 0 {
		var d net.Dialer
		return d.DialContext
	}
	p := &pool{addrs: append([]netip.Addr(nil), addrs...)}
	return p.dial
}

// SourceByDevice returns, for a device's fleet index, a Func that dials
// from addrs[device mod len(addrs)]: the address follows from the device
// alone, so processes that each run a shard of one fleet give every
// device the address one process would. An empty pool dials normally.
func SourceByDevice(addrs []netip.Addr) func(device int) Func {
	if len(addrs) == 0 {
		var d net.Dialer
		return func(int) Func { return d.DialContext }
	}
	addrs = append([]netip.Addr(nil), addrs...)
	dialers := make([]Func, len(addrs))
	for i, a := range addrs {
		src := a
		dialers[i] = func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: localAddr(network, src), Control: bindNoPort}
			return d.DialContext(ctx, network, addr)
		}
	}
	return func(device int) Func {
		return dialers[uint(device)%uint(len(dialers))]
	}
}

// pool is the state behind SourcePool.
type pool struct {
	addrs []netip.Addr
	next  atomic.Uint64
}

func (p *pool) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	src := p.addrs[(p.next.Add(1)-1)%uint64(len(p.addrs))]
	d := net.Dialer{LocalAddr: localAddr(network, src), Control: bindNoPort}
	return d.DialContext(ctx, network, addr)
}

// localAddr builds the net.Addr type net.Dialer expects for network, with
// port 0 so the kernel picks the ephemeral port.
func localAddr(network string, ip netip.Addr) net.Addr {
	switch {
	case strings.HasPrefix(network, "udp"):
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
	case strings.HasPrefix(network, "ip"):
		return &net.IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
}

// LoopbackSources returns n addresses 127.0.0.2, 127.0.0.3, ... (n <=
// MaxLoopbackSources; larger n is clamped, n <= 0 gives none). On Linux the
// whole of 127.0.0.0/8 is local, so no interface set-up is needed.
func LoopbackSources(n int) []netip.Addr {
	n = max(0, min(n, MaxLoopbackSources))
	out := make([]netip.Addr, n)
	for i := range out {
		v := uint32(127)<<24 | uint32(i+2)
		out[i] = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return out
}
