package kernel

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TUN device names inside the namespaces (each namespace has its own).
const (
	tunQueue = 10_000 // packets
	devTUN   = "tun-dev"
	srvTUN   = "tun-srv"
)

// openTUN creates a non-persistent TUN device (IP packets, no packet
// info header) inside ns and returns its fd, pollable by Go's runtime.
// The device disappears when the fd closes.
func openTUN(ns netns.NsHandle, name string) (*os.File, error) {
	var f *os.File
	err := inNS(ns, func() error {
		t := &netlink.Tuntap{
			LinkAttrs:  netlink.LinkAttrs{Name: name, MTU: 1500},
			Mode:       netlink.TUNTAP_MODE_TUN,
			Flags:      netlink.TUNTAP_NO_PI,
			Queues:     1,
			NonPersist: true,
		}
		if err := netlink.LinkAdd(t); err != nil {
			return err
		}
		f = t.Fds[0]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel: create TUN %s: %w", name, err)
	}
	return f, nil
}

// nsConfig is what configure sets up in one namespace.
type nsConfig struct {
	tun   string
	addr  netip.Prefix // address on the TUN, if valid
	local netip.Prefix // a range made local on lo (AnyIP), if valid
	route netip.Prefix // the other side's range, through the TUN
	src   netip.Addr   // preferred source for route, if valid
}

// configure brings lo and the TUN up and adds c's addresses and routes,
// all through a netlink handle bound to ns.
func configure(ns netns.NsHandle, c nsConfig) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("kernel: netlink handle: %w", err)
	}
	defer h.Close()
	lo, tun, err := loAnd(h, c.tun)
	if err != nil {
		return err
	}
	// A burst of a whole fleet's packets must wait in the TUN's queue
	// for the wire's reader, not be dropped at the default 500.
	if err := h.LinkSetTxQLen(tun, tunQueue); err != nil {
		return fmt.Errorf("kernel: queue length of %s: %w", c.tun, err)
	}
	if err := setUp(h, lo, tun); err != nil {
		return err
	}
	if c.addr.IsValid() {
		a := &netlink.Addr{IPNet: ipNet(c.addr)}
		if err := h.AddrAdd(tun, a); err != nil {
			return fmt.Errorf("kernel: address %s on %s: %w", c.addr, c.tun, err)
		}
	}
	if err := addAnyIP(h, lo, c.local); err != nil {
		return err
	}
	r := &netlink.Route{LinkIndex: tun.Attrs().Index, Dst: ipNet(c.route), Scope: netlink.SCOPE_LINK}
	if c.src.IsValid() {
		r.Src = c.src.AsSlice()
	}
	if err := h.RouteAdd(r); err != nil {
		return fmt.Errorf("kernel: route %s via %s: %w", c.route, c.tun, err)
	}
	return nil
}

// loAnd finds lo and the link called name in h's namespace.
func loAnd(h *netlink.Handle, name string) (lo, l netlink.Link, err error) {
	if lo, err = h.LinkByName("lo"); err != nil {
		return nil, nil, fmt.Errorf("kernel: find lo: %w", err)
	}
	if l, err = h.LinkByName(name); err != nil {
		return nil, nil, fmt.Errorf("kernel: find %s: %w", name, err)
	}
	return lo, l, nil
}

// setUp brings links up.
func setUp(h *netlink.Handle, links ...netlink.Link) error {
	for _, l := range links {
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("kernel: set %s up: %w", l.Attrs().Name, err)
		}
	}
	return nil
}

// addAnyIP makes every address of p local on lo (the kernel's AnyIP), so
// a device binds to its own address without one being added per device;
// nothing when p is not valid.
func addAnyIP(h *netlink.Handle, lo netlink.Link, p netip.Prefix) error {
	if !p.IsValid() {
		return nil
	}
	r := &netlink.Route{
		LinkIndex: lo.Attrs().Index, Dst: ipNet(p), Table: unix.RT_TABLE_LOCAL,
		Type: unix.RTN_LOCAL, Scope: netlink.SCOPE_HOST,
	}
	if err := h.RouteAdd(r); err != nil {
		return fmt.Errorf("kernel: local route %s on lo: %w", p, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
