package kernel

import "net/netip"

// ipv4Addrs returns the source and destination of an IPv4 packet; ok is
// false for anything else (IPv6, a truncated header).
func ipv4Addrs(pkt []byte) (src, dst netip.Addr, ok bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 || int(pkt[0]&0x0f)*4 < 20 {
		return netip.Addr{}, netip.Addr{}, false
	}
	src = netip.AddrFrom4([4]byte(pkt[12:16]))
	dst = netip.AddrFrom4([4]byte(pkt[16:20]))
	return src, dst, true
}
