package kernel

import (
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/m2msim/m2msim/transports/netem"
)

// Per device, every device has its own class, past u32's 4095 filters
// per priority: a datagram from device i is counted by class 1:i+1 and
// by no other.
func TestQdiscPerDeviceClasses(t *testing.T) {
	const n = 4100
	start := time.Now()
	q := openQdisc(t, QdiscConfig{Groups: []QdiscGroup{
		{First: 0, Count: n, PerDevice: true, Link: netem.Link{Up: netem.Profile{Rate: 10_000_000}}},
	}})
	t.Logf("OpenQdisc with %d per-device classes: %v", n, time.Since(start))
	srv, err := q.ListenPacketServer("udp4", net.JoinHostPort(q.ServerAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	devs := []int{0, 1, 3999, 4000, 4099}
	for _, i := range devs {
		c, err := q.ListenPacket(i, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.WriteTo(make([]byte, 100), srv.LocalAddr())
		c.Close()
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := srv.ReadFrom(make([]byte, 8192)); err != nil {
			t.Fatalf("device %d: datagram not received: %v", i, err)
		}
	}
	counted := classPackets(t, q)
	for _, i := range devs {
		if counted[uint16(i+1)] != 1 {
			t.Errorf("class 1:%x counted %d packets, want 1 (device %d's)", i+1, counted[uint16(i+1)], i)
		}
	}
	total := 0
	for _, c := range counted {
		total += c
	}
	if total != len(devs) {
		t.Errorf("the classes counted %d packets in all, want %d", total, len(devs))
	}
}

// classPackets returns the packets each HTB class on the device-side
// veth has sent, by minor number.
func classPackets(t *testing.T, q *Qdisc) map[uint16]int {
	t.Helper()
	ns, err := netns.GetFromName(q.DeviceNS())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	veth, err := h.LinkByName(devVeth)
	if err != nil {
		t.Fatal(err)
	}
	classes, err := h.ClassList(veth, netlink.MakeHandle(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16]int{}
	for _, c := range classes {
		if s := c.Attrs().Statistics; s != nil && s.Basic != nil && s.Basic.Packets > 0 {
			out[uint16(c.Attrs().Handle&0xffff)] = int(s.Basic.Packets)
		}
	}
	return out
}
