package kernel

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/rootonly"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/m2msim/m2msim/transports/netem"
)

// A fixed 100 ms each way adds 200 ms to a TCP connect (SYN up, SYN-ACK
// down), against devices of the same wire with no delay, at p50 over 20
// connects each.
func TestWireConnectDelay(t *testing.T) {
	const n = 20
	w := runWire(t, Config{Link: func(i int) netem.Link {
		if i < n {
			return netem.Link{}
		}
		d := netem.Profile{Delay: 100 * time.Millisecond}
		return netem.Link{Up: d, Down: d}
	}})
	srv := startEcho(t, w)
	connect := func(dev int) time.Duration {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		c, err := w.Dialer(dev)(ctx, "tcp", srv.addr())
		if err != nil {
			t.Fatalf("device %d: %v", dev, err)
		}
		took := time.Since(start)
		c.Close()
		return took
	}
	var plain, shaped []time.Duration
	for i := range n {
		plain = append(plain, connect(i))
		shaped = append(shaped, connect(n+i))
	}
	added := median(shaped) - median(plain)
	t.Logf("connect p50: unshaped %v, 100 ms each way %v, added %v", median(plain), median(shaped), added)
	if added < 199*time.Millisecond || added > 203*time.Millisecond {
		t.Errorf("100 ms each way added %v to the connect p50, want 200 ms (-1, +3 ms)", added)
	}
}

// 5 % random loss each way makes the kernel's TCP retransmit: TCP_INFO's
// tcpi_total_retrans on the device's socket counts it.
func TestWireLossRetransmits(t *testing.T) {
	p := netem.Profile{Delay: 5 * time.Millisecond, Loss: netem.Loss{P: 5}}
	w := runWire(t, Config{Seed: 1, Link: func(int) netem.Link { return netem.Link{Up: p, Down: p} }})
	srv := startEcho(t, w)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := w.Dialer(0)(ctx, "tcp", srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	const size = 256 << 10
	go c.Write(make([]byte, size))
	if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
		t.Fatalf("echo of %d bytes through 5%% loss: %v", size, err)
	}
	info := tcpInfo(t, c)
	t.Logf("tcpi_total_retrans %d, tcpi_rtt %v; wire %+v", info.TotalRetrans, info.RTT, w.Stats())
	if info.TotalRetrans == 0 {
		t.Errorf("tcpi_total_retrans = 0 after %d bytes each way through 5%% loss, want > 0", size)
	}
	if info.RTT < 10*time.Millisecond {
		t.Errorf("tcpi_rtt %v through 5 ms each way, want at least 10 ms", info.RTT)
	}
	if st := w.Stats(); st.Up.Dropped == 0 || st.Down.Dropped == 0 {
		t.Errorf("wire dropped up %d, down %d packets, want both > 0", st.Up.Dropped, st.Down.Dropped)
	}
}

func tcpInfo(t *testing.T, c net.Conn) TCPInfo {
	t.Helper()
	info, err := TCPStats(c.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// 200 devices, each from its own address: the server sees 200 distinct
// peers, each the address of the device that dialed.
func TestWireDevicesOwnAddresses(t *testing.T) {
	const n = 200
	w := runWire(t, Config{})
	srv := startEcho(t, w)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	want := map[string]bool{}
	for i := range n {
		c, err := w.Dialer(i)(ctx, "tcp", srv.addr())
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := fmt.Sprintf("device %d", i)
		buf := make([]byte, len(msg))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Fatalf("device %d: echo %q, %v", i, buf, err)
		}
		a, _ := w.DeviceAddr(i)
		if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); got != a {
			t.Errorf("device %d dialed from %v, want %v", i, got, a)
		}
		want[a.String()] = true
	}
	seen := map[string]bool{}
	for _, p := range srv.peerList() {
		ap := netip.MustParseAddrPort(p)
		if !want[ap.Addr().String()] {
			t.Errorf("server saw peer %s, not a device address", p)
		}
		seen[ap.Addr().String()] = true
	}
	if len(seen) != n {
		t.Errorf("server saw %d distinct peer addresses, want %d", len(seen), n)
	}
}

// A UDP exchange through ListenPacket crosses the wire both ways, shaped.
func TestWireUDP(t *testing.T) {
	d := netem.Profile{Delay: 50 * time.Millisecond}
	w := runWire(t, Config{Link: func(int) netem.Link { return netem.Link{Up: d, Down: d} }})
	srv, err := w.ListenPacketServer("udp4", net.JoinHostPort(w.ServerAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			srv.WriteTo(buf[:n], from)
		}
	}()
	pc, err := w.ListenPacket(3, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := pc.WriteTo([]byte("ping"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(srv.LocalAddr().String()))); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("echo = %q, %v", buf[:n], err)
	}
	if rtt := time.Since(start); rtt < 100*time.Millisecond || rtt > 150*time.Millisecond {
		t.Errorf("UDP round trip %v through 50 ms each way, want 100-150 ms", rtt)
	}
}

// Close removes both namespaces' files and the TUN devices: a handle kept
// on the device namespace sees no TUN left in it.
func TestWireCloseRemovesEverything(t *testing.T) {
	rootonly.Need(t)
	w, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	dev, err := netns.GetFromName(w.DeviceNS())
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	h, err := netlink.NewHandleAt(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.LinkByName(devTUN); err != nil {
		t.Fatalf("before Close: %s: %v", devTUN, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, name := range []string{w.DeviceNS(), w.ServerNS()} {
		if _, err := os.Stat(filepath.Join(netnsDir, name)); !os.IsNotExist(err) {
			t.Errorf("after Close, %s/%s: %v, want it gone", netnsDir, name, err)
		}
	}
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			t.Errorf("after Close, the device namespace still has link %s", l.Attrs().Name)
		}
	}
}

// A namespace named for a process that is gone is removed by the next
// Open; one of a live process is left alone.
func TestOpenRemovesLeftovers(t *testing.T) {
	rootonly.Need(t)
	dead := deadPID(t)
	stale := fmt.Sprintf("%s%d-1-dev", NamePrefix, dead)
	live := fmt.Sprintf("%s%d-999-dev", NamePrefix, os.Getpid())
	for _, name := range []string{stale, live} {
		h, err := newNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
		t.Cleanup(func() { deleteNamed(name) })
	}
	runWire(t, Config{})
	if _, err := os.Stat(filepath.Join(netnsDir, stale)); !os.IsNotExist(err) {
		t.Errorf("leftover %s of dead PID %d: %v, want it removed", stale, dead, err)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, live)); err != nil {
		t.Errorf("namespace %s of a live PID: %v, want it kept", live, err)
	}
}

// deadPID returns the PID of a process that has exited.
// A PID reused at once is tried again, a few times.
func deadPID(t *testing.T) int {
	t.Helper()
	for range 5 {
		var attr os.ProcAttr
		p, err := os.StartProcess("/bin/true", []string{"true"}, &attr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		if !alive(p.Pid) {
			return p.Pid
		}
	}
	t.Fatal("five exited processes' PIDs were each reused at once")
	return 0
}

// Packets that belong to no device are dropped and counted, not forwarded.
func TestIPv4AddrsRejectsOthers(t *testing.T) {
	for _, pkt := range [][]byte{nil, {0x60, 0, 0, 0}, make([]byte, 19), append([]byte{0x44}, make([]byte, 19)...)} {
		if _, _, ok := ipv4Addrs(pkt); ok {
			t.Errorf("ipv4Addrs(% x) ok, want not an IPv4 packet", pkt)
		}
	}
	pkt := make([]byte, 20)
	pkt[0] = 0x45
	copy(pkt[12:], []byte{10, 77, 0, 5, 10, 78, 0, 1})
	src, dst, ok := ipv4Addrs(pkt)
	if !ok || src.String() != "10.77.0.5" || dst.String() != "10.78.0.1" {
		t.Errorf("ipv4Addrs = %v, %v, %v, want 10.77.0.5, 10.78.0.1", src, dst, ok)
	}
}
