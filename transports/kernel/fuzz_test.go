package kernel

import (
	"net/netip"
	"testing"
)

// FuzzIPv4Addrs feeds the wire's packet parser arbitrary bytes, as a TUN
// read could return: it never panics, accepts only IPv4 headers, and the
// addresses it returns are the header's.
func FuzzIPv4Addrs(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 77, 0, 1, 10, 78, 0, 1})
	f.Add([]byte{0x60, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		src, dst, ok := ipv4Addrs(pkt)
		if !ok {
			return
		}
		if len(pkt) < 20 || pkt[0]>>4 != 4 {
			t.Fatalf("ipv4Addrs(% x) accepted a non-IPv4 packet", pkt)
		}
		if src != netip.AddrFrom4([4]byte(pkt[12:16])) || dst != netip.AddrFrom4([4]byte(pkt[16:20])) {
			t.Fatalf("ipv4Addrs(% x) = %v, %v: not the header's addresses", pkt, src, dst)
		}
	})
}

// Device addresses map to indexes and back over the whole range, and
// nothing outside it maps to a device.
func TestHostIndexRoundTrip(t *testing.T) {
	p := netip.MustParsePrefix("10.77.0.0/16")
	for _, i := range []int{0, 1, 254, 255, 256, 65533} {
		a, ok := nthHost(p, i)
		if !ok {
			t.Fatalf("nthHost(%v, %d) not ok", p, i)
		}
		if j, ok := hostIndex(p, a); !ok || j != i {
			t.Errorf("hostIndex(%v) = %d, %v, want %d", a, j, ok, i)
		}
	}
	if a, _ := nthHost(p, 0); a.String() != "10.77.0.1" {
		t.Errorf("device 0 = %v, want 10.77.0.1", a)
	}
	for _, s := range []string{"10.77.0.0", "10.77.255.255", "10.78.0.1", "127.0.0.1"} {
		if i, ok := hostIndex(p, netip.MustParseAddr(s)); ok {
			t.Errorf("hostIndex(%s) = %d, want no device", s, i)
		}
	}
	if _, ok := nthHost(p, 65534); ok {
		t.Errorf("nthHost(%v, 65534) ok, want past the range", p)
	}
}

// Bad ranges are refused with every problem named.
func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want bool
	}{
		{Config{}, true},
		{Config{Devices: netip.MustParsePrefix("10.78.0.0/16")}, false},
		{Config{Devices: netip.MustParsePrefix("fd00::/64")}, false},
		{Config{Server: netip.MustParsePrefix("10.78.0.1/32")}, false},
	} {
		err := tt.cfg.withDefaults().validate()
		if (err == nil) != tt.want {
			t.Errorf("validate(%+v) = %v, want ok %v", tt.cfg, err, tt.want)
		}
	}
}
