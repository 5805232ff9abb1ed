package dial_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/tcptest"
	"github.com/m2msim/m2msim/transports/dial"
)

func TestLoopbackSources(t *testing.T) {
	tests := []struct {
		n     int
		len   int
		first string
		last  string
	}{
		{n: 0, len: 0},
		{n: -3, len: 0},
		{n: 1, len: 1, first: "127.0.0.2", last: "127.0.0.2"},
		{n: 3, len: 3, first: "127.0.0.2", last: "127.0.0.4"},
		{n: 300, len: 300, first: "127.0.0.2", last: "127.0.1.45"},
		{n: dial.MaxLoopbackSources, len: dial.MaxLoopbackSources, first: "127.0.0.2", last: "127.0.253.233"},
		{n: dial.MaxLoopbackSources + 10, len: dial.MaxLoopbackSources, first: "127.0.0.2", last: "127.0.253.233"},
	}
	for _, tt := range tests {
		got := dial.LoopbackSources(tt.n)
		if len(got) != tt.len {
			t.Fatalf("len(LoopbackSources(%d)) = %d, want %d", tt.n, len(got), tt.len)
		}
		if tt.len == 0 {
			continue
		}
		if f, l := got[0].String(), got[len(got)-1].String(); f != tt.first || l != tt.last {
			t.Errorf("LoopbackSources(%d) spans %s..%s, want %s..%s", tt.n, f, l, tt.first, tt.last)
		}
		for _, a := range got {
			if !a.IsLoopback() {
				t.Fatalf("LoopbackSources(%d) holds %s, not a loopback address", tt.n, a)
			}
		}
	}
}

// acceptSources accepts n connections from ln and returns the source IPs
// they came from.
func acceptSources(t *testing.T, ln net.Listener, n int) map[netip.Addr]int {
	t.Helper()
	seen := map[netip.Addr]int{}
	for range n {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("Accept() = %v", err)
		}
		ap := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		seen[ap.Addr().Unmap()]++
		c.Close()
	}
	return seen
}

func TestSourcePoolSpreadsSources(t *testing.T) {
	tests := []struct {
		name  string
		pool  []netip.Addr
		dials int
		want  map[string]int
	}{
		{name: "pool of 3", pool: dial.LoopbackSources(3), dials: 6,
			want: map[string]int{"127.0.0.2": 2, "127.0.0.3": 2, "127.0.0.4": 2}},
		{name: "empty pool", pool: nil, dials: 2, want: map[string]int{"127.0.0.1": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			f := dial.SourcePool(tt.pool)
			conns := make([]net.Conn, 0, tt.dials)
			for range tt.dials {
				c, err := f(ctx, "tcp", ln.Addr().String())
				if err != nil {
					t.Fatalf("dial = %v", err)
				}
				conns = append(conns, c)
			}
			seen := acceptSources(t, ln, tt.dials)
			for _, c := range conns {
				c.Close()
			}
			if len(seen) != len(tt.want) {
				t.Fatalf("sources = %v, want %v", seen, tt.want)
			}
			for ip, n := range tt.want {
				if got := seen[netip.MustParseAddr(ip)]; got != n {
					t.Errorf("connections from %s = %d, want %d (all: %v)", ip, got, n, seen)
				}
			}
		})
	}
}

func TestSourcePoolUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	f := dial.SourcePool(dial.LoopbackSources(2)[1:])
	c, err := f(context.Background(), "udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatalf("dial udp = %v", err)
	}
	defer c.Close()
	if got := c.LocalAddr().(*net.UDPAddr).IP.String(); got != "127.0.0.3" {
		t.Errorf("udp source = %s, want 127.0.0.3", got)
	}
}

func TestSourcePoolHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := dial.SourcePool(dial.LoopbackSources(1))
	if c, err := f(ctx, "tcp", "127.0.0.1:1"); err == nil {
		c.Close()
		t.Fatal("dial with a cancelled context succeeded, want an error")
	}
}

func TestSourceByDeviceFollowsTheDevice(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcptest.Serve(t, ln, func(c net.Conn) { c.Close() })
	pool := dial.LoopbackSources(3)
	byDev := dial.SourceByDevice(pool)
	for _, dev := range []int{0, 1, 2, 3, 7, 1000} {
		c, err := byDev(dev)(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr()
		c.Close()
		if want := pool[dev%3]; got != want {
			t.Errorf("device %d dialed from %v, want %v", dev, got, want)
		}
	}
}
