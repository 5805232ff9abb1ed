package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/m2msim/m2msim/transports/dial"
)

// veth ends: the device namespace's and the server namespace's.
const (
	devVeth = "veth-dev"
	srvVeth = "veth-srv"
)

// Qdisc is a kernel-qdisc network: the wire's device and server
// namespaces joined by a veth pair, shaped by the kernel itself (HTB
// classes per group, netem below them). It needs no forwarding loop:
// once OpenQdisc returns, packets flow. Its methods are safe for
// concurrent use.
type Qdisc struct {
	ns      *Wire // the namespaces and their sockets; no TUN, never Run
	closeMu sync.Mutex
	closed  bool // guarded by closeMu
}

// OpenQdisc removes leftovers of dead runs, checks that every group's
// link can be expressed (QdiscUnsupported) and, if any needs netem, that
// the kernel has it (NetemAvailable), then creates the namespaces, the
// veth pair and the qdiscs. On error, whatever it made is removed again.
func OpenQdisc(cfg QdiscConfig) (q *Qdisc, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.needsNetem() {
		if err := NetemAvailable(); err != nil {
			return nil, err
		}
	}
	if _, err := RemoveLeftovers(); err != nil {
		return nil, err
	}
	wc := cfg.wireConfig()
	server, _ := nthHost(wc.Server, 0)
	q = &Qdisc{ns: &Wire{cfg: wc, server: server, devNS: netns.None(), srvNS: netns.None()}}
	defer func() {
		if err != nil {
			q.Close()
			q = nil
			switch {
			case errors.Is(err, ErrNoNetem):
				err = ErrNoNetem // the sentence says it all
			case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
				err = fmt.Errorf("%w: %w", ErrPrivilege, err)
			}
		}
	}()
	w := q.ns
	w.devName, w.srvName = nsNames()
	if w.devNS, err = newNamed(w.devName); err != nil {
		return q, err
	}
	if w.srvNS, err = newNamed(w.srvName); err != nil {
		return q, err
	}
	if err = q.link(); err != nil {
		return q, err
	}
	if err = shape(w.devNS, devVeth, cfg, upDir); err != nil {
		return q, fmt.Errorf("%s: %w", w.devName, err)
	}
	if err = shape(w.srvNS, srvVeth, cfg, downDir); err != nil {
		return q, fmt.Errorf("%s: %w", w.srvName, err)
	}
	return q, nil
}

// link creates the veth pair and configures both ends. The server's
// subnet is the link's: the server has its first host, the device end
// its second, and the server reaches every device through that one
// neighbour (one ARP entry, whatever the fleet's size).
func (q *Qdisc) link() error {
	w := q.ns
	h, err := netlink.NewHandleAt(w.devNS)
	if err != nil {
		return fmt.Errorf("kernel: netlink handle: %w", err)
	}
	defer h.Close()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: devVeth, MTU: 1500},
		PeerName:      srvVeth,
		PeerNamespace: netlink.NsFd(w.srvNS),
	}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("kernel: create veth %s/%s: %w", devVeth, srvVeth, err)
	}
	gw, _ := nthHost(w.cfg.Server, 1)
	bits := w.cfg.Server.Bits()
	if err := configureVeth(w.devNS, vethConfig{
		name: devVeth, addr: netip.PrefixFrom(gw, bits), local: w.cfg.Devices,
	}); err != nil {
		return fmt.Errorf("%s: %w", w.devName, err)
	}
	return configureVeth(w.srvNS, vethConfig{
		name: srvVeth, addr: netip.PrefixFrom(w.server, bits), route: w.cfg.Devices, via: gw,
	})
}

// DeviceNS returns the device namespace's name (in /run/netns).
func (q *Qdisc) DeviceNS() string { return q.ns.devName }

// ServerNS returns the server namespace's name (in /run/netns).
func (q *Qdisc) ServerNS() string { return q.ns.srvName }

// ServerAddr is the server's address in the server namespace.
func (q *Qdisc) ServerAddr() netip.Addr { return q.ns.server }

// DeviceAddr is device i's address: the (i+1)-th of the devices range.
func (q *Qdisc) DeviceAddr(i int) (netip.Addr, error) { return q.ns.DeviceAddr(i) }

// Dialer returns a dial.Func whose sockets live in the device namespace,
// bound to device i's address, as Wire.Dialer.
func (q *Qdisc) Dialer(device int) dial.Func { return q.ns.Dialer(device) }

// ListenPacket returns an unconnected UDP socket in the device namespace
// bound to device i's address and port (0: any).
func (q *Qdisc) ListenPacket(device, port int) (net.PacketConn, error) {
	return q.ns.ListenPacket(device, port)
}

// Listen opens a listener inside the server namespace.
func (q *Qdisc) Listen(network, addr string) (net.Listener, error) {
	return q.ns.Listen(network, addr)
}

// ListenPacketServer opens a datagram socket inside the server namespace.
func (q *Qdisc) ListenPacketServer(network, addr string) (net.PacketConn, error) {
	return q.ns.ListenPacketServer(network, addr)
}

// Start starts cmd inside the server namespace, as Wire.Start.
func (q *Qdisc) Start(cmd *exec.Cmd) error { return q.ns.Start(cmd) }

// ServerDialer dials from inside the server namespace, as
// Wire.ServerDialer: a connection that crosses no shaped link.
func (q *Qdisc) ServerDialer() dial.Func { return q.ns.ServerDialer() }

// InServer runs fn on a thread inside the server namespace, as
// Wire.InServer.
func (q *Qdisc) InServer(fn func() error) error { return q.ns.InServer(fn) }

// Close deletes the veth pair (and with it every qdisc, class and
// filter on it) and removes both namespaces. It is safe to call more
// than once and after a failed OpenQdisc. Sockets still open in a
// namespace keep it alive, unnamed and without links, until they close.
func (q *Qdisc) Close() error {
	q.closeMu.Lock()
	defer q.closeMu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	var errs []error
	if q.ns.devNS.IsOpen() {
		errs = append(errs, deleteLink(q.ns.devNS, devVeth))
	}
	errs = append(errs, q.ns.Close())
	return errors.Join(errs...)
}

// deleteLink deletes the link name in ns; a missing one is not an error.
// Deleting one end of a veth deletes its peer.
func deleteLink(ns netns.NsHandle, name string) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("kernel: netlink handle: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kernel: find %s: %w", name, err)
	}
	if err := h.LinkDel(l); err != nil {
		return fmt.Errorf("kernel: delete %s: %w", name, err)
	}
	return nil
}

// vethConfig is what configureVeth sets up on one end.
type vethConfig struct {
	name  string
	addr  netip.Prefix // address on the veth
	local netip.Prefix // a range made local on lo (AnyIP), if valid
	route netip.Prefix // a range reached through via, if valid
	via   netip.Addr
}

// configureVeth brings lo and the veth up, adds the address, and the
// AnyIP range or the route through the other end.
func configureVeth(ns netns.NsHandle, c vethConfig) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("kernel: netlink handle: %w", err)
	}
	defer h.Close()
	lo, veth, err := loAnd(h, c.name)
	if err != nil {
		return err
	}
	if err := setUp(h, lo, veth); err != nil {
		return err
	}
	if err := h.AddrAdd(veth, &netlink.Addr{IPNet: ipNet(c.addr)}); err != nil {
		return fmt.Errorf("kernel: address %s on %s: %w", c.addr, c.name, err)
	}
	if err := addAnyIP(h, lo, c.local); err != nil {
		return err
	}
	if c.route.IsValid() {
		r := &netlink.Route{LinkIndex: veth.Attrs().Index, Dst: ipNet(c.route), Gw: c.via.AsSlice()}
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("kernel: route %s via %s: %w", c.route, c.via, err)
		}
	}
	return nil
}
