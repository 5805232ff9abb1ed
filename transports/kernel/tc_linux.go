package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/m2msim/m2msim/transports/netem"
)

// qdiscDir is one direction's side of the veth: which profile of a Link
// shapes its egress, and which IPv4 header address (source uplink,
// destination downlink) names the device.
type qdiscDir struct {
	profile func(netem.Link) netem.Profile
	offset  int32 // of the address in the IPv4 header
}

var (
	upDir   = qdiscDir{func(l netem.Link) netem.Profile { return l.Up }, 12}
	downDir = qdiscDir{func(l netem.Link) netem.Profile { return l.Down }, 16}
)

// HTB figures.
const (
	// unlimitedRate is the class rate of a link without one: HTB needs a
	// rate, and nothing on a veth goes faster.
	unlimitedRate = 10_000_000_000 // bits/s
	// minQuantum is one full frame: a smaller quantum (HTB's default is
	// rate/10, 125 B at 10 kbit/s) makes a class's share unfair.
	minQuantum, maxQuantum = 1514, 200_000
	// filtersPerPrio stays under u32's 4095 nodes per hash table; each
	// priority has a table of its own.
	filtersPerPrio = 4000
)

// qdiscClass is one HTB class: a profile and the device addresses whose
// packets it takes.
type qdiscClass struct {
	profile netem.Profile
	ranges  []netip.Prefix
}

// classPlan lists the classes of direction d, in order; groups whose
// profile in d is zero get none (their packets pass unclassified, so
// unshaped, as do ARP and everything outside the groups).
func classPlan(cfg QdiscConfig, devices netip.Prefix, d qdiscDir) []qdiscClass {
	var out []qdiscClass
	for _, g := range cfg.Groups {
		p := d.profile(g.Link)
		if p.IsZero() {
			continue
		}
		first, _ := nthHost(devices, g.First)
		if !g.PerDevice {
			last, _ := nthHost(devices, g.First+g.Count-1)
			out = append(out, qdiscClass{profile: p, ranges: rangePrefixes(first, last)})
			continue
		}
		for i := range g.Count {
			a, _ := nthHost(devices, g.First+i)
			out = append(out, qdiscClass{profile: p, ranges: []netip.Prefix{netip.PrefixFrom(a, 32)}})
		}
	}
	return out
}

// rangePrefixes covers the IPv4 addresses first..last exactly with the
// fewest prefixes (at most 62).
func rangePrefixes(first, last netip.Addr) []netip.Prefix {
	lo, hi := u32(first), u32(last)
	var out []netip.Prefix
	for lo <= hi {
		bits := 32
		for bits > 0 {
			size := uint64(1) << (33 - bits)
			if uint64(lo)%size != 0 || uint64(lo)+size-1 > uint64(hi) {
				break
			}
			bits--
		}
		out = append(out, netip.PrefixFrom(addr4(lo), bits))
		next := uint64(lo) + uint64(1)<<(32-bits)
		if next > uint64(hi) {
			break
		}
		lo = uint32(next)
	}
	return out
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// shape puts direction d's qdiscs on the egress of the link name in ns:
// an HTB root (1:), a class 1:k+1 per planned class with its rate, a
// netem (k+2:) below it when the profile needs more than a rate, and
// u32 filters from the class's addresses to it.
func shape(ns netns.NsHandle, name string, cfg QdiscConfig, d qdiscDir) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("kernel: netlink handle: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("kernel: find %s: %w", name, err)
	}
	// One segment per packet: netem drops, delays and corrupts per
	// packet, and a 64 KiB GSO super-packet would be one loss for 44
	// segments (and one 0.5 s burst at 1 Mbit/s).
	if err := h.LinkSetGSOMaxSegs(l, 1); err != nil {
		return fmt.Errorf("kernel: GSO segments of %s: %w", name, err)
	}
	classes := classPlan(cfg, cfg.wireConfig().Devices, d)
	if len(classes) == 0 {
		return nil
	}
	idx := l.Attrs().Index
	root := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT})
	if err := h.QdiscAdd(root); err != nil {
		return fmt.Errorf("kernel: HTB root on %s: %w", name, err)
	}
	filters := 0
	for k, c := range classes {
		if err := addClass(h, idx, k, c.profile); err != nil {
			return fmt.Errorf("kernel: %s class 1:%x: %w", name, k+1, err)
		}
		for _, p := range c.ranges {
			if err := addFilter(h, idx, uint16(1+filters/filtersPerPrio), k, p, d.offset); err != nil {
				return fmt.Errorf("kernel: %s filter %s: %w", name, p, err)
			}
			filters++
		}
	}
	return nil
}

// addClass adds HTB class 1:k+1 with p's rate and, if p needs it, a
// netem qdisc k+2: below it.
func addClass(h *netlink.Handle, link, k int, p netem.Profile) error {
	id := netlink.MakeHandle(1, uint16(k+1))
	rate := uint64(p.Rate)
	if rate == 0 {
		rate = unlimitedRate
	}
	c := netlink.NewHtbClass(
		netlink.ClassAttrs{LinkIndex: link, Parent: netlink.MakeHandle(1, 0), Handle: id},
		netlink.HtbClassAttrs{Rate: rate, Ceil: rate, Quantum: quantum(rate)},
	)
	if err := h.ClassAdd(c); err != nil {
		return err
	}
	if !needsNetem(p) {
		return nil
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: link, Parent: id, Handle: netlink.MakeHandle(uint16(k+2), 0)}, netemAttrs(p))
	if err := h.QdiscAdd(q); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return ErrNoNetem
		}
		return fmt.Errorf("netem: %w", err)
	}
	return nil
}

// quantum is HTB's default (rate/10 in bytes) kept within a frame and
// HTB's own upper bound, so that the kernel need not correct it.
func quantum(bits uint64) uint32 {
	return uint32(min(max(bits/8/10, minQuantum), maxQuantum))
}

// addFilter sends packets whose address (at offset in the IPv4 header)
// is in p to class 1:k+1.
func addFilter(h *netlink.Handle, link int, prio uint16, k int, p netip.Prefix, offset int32) error {
	mask := ^uint32(0) << (32 - p.Bits())
	if p.Bits() == 0 {
		mask = 0
	}
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: link, Parent: netlink.MakeHandle(1, 0), Priority: prio, Protocol: unix.ETH_P_IP,
		},
		ClassId: netlink.MakeHandle(1, uint16(k+1)),
		Sel: &netlink.TcU32Sel{
			Flags: netlink.TC_U32_TERMINAL,
			Keys:  []netlink.TcU32Key{{Mask: mask, Val: u32(p.Addr()) & mask, Off: offset}},
		},
	}
	return h.FilterAdd(f)
}

// netemAttrs translates p into netlink's netem attributes. The rate is
// HTB's, not netem's: one place for it whether netem exists or not.
func netemAttrs(p netem.Profile) netlink.NetemQdiscAttrs {
	limit := p.Limit
	if limit == 0 {
		limit = netem.DefaultLimit
	}
	return netlink.NetemQdiscAttrs{
		Latency:       uint32(p.Delay.Microseconds()),
		Jitter:        uint32(p.Jitter.Microseconds()),
		DelayCorr:     float32(p.DelayCorr),
		Limit:         uint32(limit),
		Loss:          float32(p.Loss.P),
		LossCorr:      float32(p.Loss.Corr),
		Gap:           uint32(p.Gap),
		Duplicate:     float32(p.Duplicate),
		DuplicateCorr: float32(p.DuplicateCorr),
		ReorderProb:   float32(p.Reorder),
		ReorderCorr:   float32(p.ReorderCorr),
		CorruptProb:   float32(p.Corrupt),
		CorruptCorr:   float32(p.CorruptCorr),
	}
}

// netemProbe caches NetemAvailable's definite answers.
var netemProbe struct {
	mu   sync.Mutex
	done bool  // guarded by mu
	err  error // guarded by mu
}

// NetemAvailable reports whether the kernel has the netem qdisc: nil if
// it does, ErrNoNetem if not, another error if it could not tell (not
// root, say). It adds a netem qdisc to lo in a throwaway namespace,
// once per process; OpenQdisc calls it before it creates anything.
func NetemAvailable() error {
	netemProbe.mu.Lock()
	defer netemProbe.mu.Unlock()
	if netemProbe.done {
		return netemProbe.err
	}
	err := probeNetem()
	if err == nil || errors.Is(err, ErrNoNetem) {
		netemProbe.done, netemProbe.err = true, err
	}
	return err
}

func probeNetem() error {
	name := fmt.Sprintf("%s%d-%d-probe", NamePrefix, os.Getpid(), wires.Add(1))
	ns, err := newNamed(name)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return fmt.Errorf("%w: %w", ErrPrivilege, err)
		}
		return err
	}
	defer deleteNamed(name)
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("kernel: netlink handle: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("kernel: find lo: %w", err)
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: lo.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		netlink.NetemQdiscAttrs{Latency: 1000})
	switch err := h.QdiscAdd(q); {
	case errors.Is(err, unix.ENOENT):
		return ErrNoNetem
	case err != nil:
		return fmt.Errorf("kernel: probe for netem: %w", err)
	}
	return nil
}
