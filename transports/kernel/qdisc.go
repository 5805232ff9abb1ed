package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/m2msim/m2msim/transports/netem"
)

// ErrNoNetem is returned by NetemAvailable and OpenQdisc when the kernel
// has no netem qdisc. Its text is the whole explanation a user needs.
var ErrNoNetem = errors.New("kernel: this kernel lacks the netem qdisc (sch_netem), so delay and loss need link.engine: wire or the default in-socket shaping; rate-only links still work with engine: kernel")

// ErrQdiscUnsupported is wrapped by OpenQdisc's error when a link uses
// options the kernel's qdiscs cannot be given through netlink.
var ErrQdiscUnsupported = errors.New("kernel: option not expressible as a kernel qdisc")

// QdiscConfig describes a kernel-qdisc network: the wire's two
// namespaces joined by a veth pair whose egress qdiscs (HTB classes with
// netem below) shape each group's traffic. The zero value has no groups:
// every packet passes unshaped.
type QdiscConfig struct {
	// Devices and Server are the address ranges, as in Config.
	Devices, Server netip.Prefix
	// Groups shape device index ranges; devices in no group pass
	// unshaped. Ranges must not overlap.
	Groups []QdiscGroup
}

// QdiscGroup is a contiguous range of devices sharing one link.
type QdiscGroup struct {
	// First is the first device index, Count how many devices.
	First, Count int
	// Link is the group's shaping: Up on the device side's egress, Down
	// on the server side's.
	Link netem.Link
	// PerDevice gives every device of the group its own class and netem
	// (its own rate and queue) instead of one shared by the group, as a
	// cell shares its capacity.
	PerDevice bool
}

// maxClasses bounds the classes per direction: a class's netem child
// takes a qdisc major number (2..0xFFFF) of its own.
const maxClasses = 0xFFFF - 2

func (c QdiscConfig) wireConfig() Config {
	return Config{Devices: c.Devices, Server: c.Server}.withDefaults()
}

// validate checks the ranges, the groups and that every link can be put
// into the kernel's qdiscs; it returns every problem.
func (c QdiscConfig) validate() error {
	wc := c.wireConfig()
	errs := []error{wc.validate()}
	n, classes := hostCount(wc.Devices), 0
	for i, g := range c.Groups {
		where := fmt.Sprintf("kernel: group %d (devices %d..%d)", i, g.First, g.First+g.Count-1)
		switch {
		case g.Count <= 0 || g.First < 0:
			errs = append(errs, fmt.Errorf("%s: want First >= 0 and Count > 0", where))
			continue
		case g.First+g.Count > n:
			errs = append(errs, fmt.Errorf("%s: outside %s (%d addresses)", where, wc.Devices, n))
		}
		for j, h := range c.Groups[:i] {
			if g.First < h.First+h.Count && h.First < g.First+g.Count {
				errs = append(errs, fmt.Errorf("%s: overlaps group %d", where, j))
			}
		}
		if err := g.Link.Up.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: up: %w", where, err))
		}
		if err := g.Link.Down.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: down: %w", where, err))
		}
		if u := QdiscUnsupported(g.Link); len(u) > 0 {
			errs = append(errs, fmt.Errorf("%w: %s: %s; link.engine: wire models them", ErrQdiscUnsupported, where, strings.Join(u, ", ")))
		}
		classes += g.classes()
	}
	if classes > maxClasses {
		errs = append(errs, fmt.Errorf("kernel: %d qdisc classes, at most %d", classes, maxClasses))
	}
	return errors.Join(errs...)
}

// classes is how many classes the group needs in each direction.
func (g QdiscGroup) classes() int {
	if g.PerDevice {
		return g.Count
	}
	return 1
}

// needsNetem reports whether any group needs a netem qdisc.
func (c QdiscConfig) needsNetem() bool {
	for _, g := range c.Groups {
		if needsNetem(g.Link.Up) || needsNetem(g.Link.Down) {
			return true
		}
	}
	return false
}

// needsNetem reports whether p shapes more than a rate: rate alone is
// HTB's job.
func needsNetem(p netem.Profile) bool {
	p.Rate, p.Limit, p.Mode = 0, 0, 0
	return !p.IsZero()
}

// QdiscUnsupported lists the options of l, per direction ("up: loss
// gemodel (Gilbert-Elliott)"), that netlink's netem and HTB cannot
// express, so OpenQdisc refuses them; the wire engine models them all.
// Nil when the kernel's qdiscs can carry l.
func QdiscUnsupported(l netem.Link) []string {
	var out []string
	for _, d := range []struct {
		name string
		p    netem.Profile
	}{{"up", l.Up}, {"down", l.Down}} {
		for _, o := range unsupported(d.p) {
			out = append(out, d.name+": "+o)
		}
	}
	return out
}

func unsupported(p netem.Profile) []string {
	var out []string
	switch p.Loss.Model {
	case netem.LossGE:
		out = append(out, "loss gemodel (Gilbert-Elliott)")
	case netem.LossState:
		out = append(out, "loss state (4-state Markov)")
	}
	if p.Distribution != netem.Uniform {
		out = append(out, "distribution (delay tables)")
	}
	if p.Slot != (netem.Slot{}) {
		out = append(out, "slot")
	}
	if p.PacketOverhead != 0 || p.CellSize != 0 || p.CellOverhead != 0 {
		out = append(out, "rate overhead and cells")
	}
	if p.Mode == netem.ModeModel {
		// The kernel correlates with sch_netem's crand (ModeKernel): no
		// effect on delay, a collapsed loss rate; asked for the model's
		// correlations, it would silently give something else.
		for _, c := range []struct {
			name string
			v    netem.Percent
		}{
			{"delay", p.DelayCorr}, {"loss", p.Loss.Corr}, {"duplicate", p.DuplicateCorr},
			{"corrupt", p.CorruptCorr}, {"reorder", p.ReorderCorr},
		} {
			if c.v != 0 {
				out = append(out, c.name+" correlation in model mode (the kernel's is mode kernel)")
			}
		}
	}
	return out
}
