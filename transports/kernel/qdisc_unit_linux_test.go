package kernel

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/m2msim/m2msim/transports/netem"
)

func TestRangePrefixes(t *testing.T) {
	for _, c := range []struct {
		first, last string
		want        []string
	}{
		{"10.77.0.1", "10.77.0.1", []string{"10.77.0.1/32"}},
		{"10.77.0.1", "10.77.0.10", []string{"10.77.0.1/32", "10.77.0.2/31", "10.77.0.4/30", "10.77.0.8/31", "10.77.0.10/32"}},
		{"10.77.0.0", "10.77.255.255", []string{"10.77.0.0/16"}},
		{"10.77.0.101", "10.77.0.200", []string{"10.77.0.101/32", "10.77.0.102/31", "10.77.0.104/29", "10.77.0.112/28", "10.77.0.128/26", "10.77.0.192/29", "10.77.0.200/32"}},
		{"255.255.255.254", "255.255.255.255", []string{"255.255.255.254/31"}},
		{"0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
	} {
		var got []string
		for _, p := range rangePrefixes(netip.MustParseAddr(c.first), netip.MustParseAddr(c.last)) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("rangePrefixes(%s, %s) = %v, want %v", c.first, c.last, got, c.want)
		}
	}
}

// Every address of a range is covered exactly once, and nothing outside.
func TestRangePrefixesCover(t *testing.T) {
	base := u32(netip.MustParseAddr("10.77.0.0"))
	for _, r := range [][2]uint32{{1, 1}, {1, 1000}, {7, 4099}, {255, 257}, {3, 65534}} {
		ps := rangePrefixes(addr4(base+r[0]), addr4(base+r[1]))
		for v := base + r[0] - 1; v <= base+r[1]+1; v++ {
			n := 0
			for _, p := range ps {
				if p.Contains(addr4(v)) {
					n++
				}
			}
			want := 1
			if v < base+r[0] || v > base+r[1] {
				want = 0
			}
			if n != want {
				t.Fatalf("range %v: %s covered %d times, want %d (%v)", r, addr4(v), n, want, ps)
			}
		}
	}
}

func TestQdiscUnsupported(t *testing.T) {
	for _, c := range []struct {
		name string
		link netem.Link
		want []string
	}{
		{"zero", netem.Link{}, nil},
		{"expressible", netem.Link{
			Up: netem.Profile{Delay: time.Second, Jitter: time.Millisecond, Loss: netem.Loss{P: 1}, Duplicate: 1, Corrupt: 1,
				Reorder: 5, Rate: 1000, Limit: 20},
			Down: netem.Profile{Delay: time.Second, DelayCorr: 25, Loss: netem.Loss{P: 1, Corr: 25}, Mode: netem.ModeKernel},
		}, nil},
		{"gemodel", netem.Link{Up: netem.Profile{Loss: netem.Loss{Model: netem.LossGE, P: 1}}},
			[]string{"up: loss gemodel (Gilbert-Elliott)"}},
		{"state", netem.Link{Down: netem.Profile{Loss: netem.Loss{Model: netem.LossState, P13: 1}}},
			[]string{"down: loss state (4-state Markov)"}},
		{"table, slot, overhead", netem.Link{Up: netem.Profile{
			Delay: time.Second, Jitter: time.Millisecond, Distribution: netem.Pareto,
			Slot: netem.Slot{Min: time.Millisecond}, Rate: 1000, PacketOverhead: 20,
		}}, []string{"up: distribution (delay tables)", "up: slot", "up: rate overhead and cells"}},
		{"model correlations", netem.Link{Up: netem.Profile{Delay: time.Second, Jitter: time.Millisecond, DelayCorr: 10, Loss: netem.Loss{P: 1, Corr: 10}}},
			[]string{"up: delay correlation in model mode (the kernel's is mode kernel)", "up: loss correlation in model mode (the kernel's is mode kernel)"}},
	} {
		if got := QdiscUnsupported(c.link); !slices.Equal(got, c.want) {
			t.Errorf("%s: QdiscUnsupported = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestNeedsNetem(t *testing.T) {
	for _, c := range []struct {
		p    netem.Profile
		want bool
	}{
		{netem.Profile{}, false},
		{netem.Profile{Rate: 1000, Limit: 10}, false},
		{netem.Profile{Rate: 1000, Delay: time.Millisecond}, true},
		{netem.Profile{Loss: netem.Loss{P: 1}}, true},
		{netem.Profile{Duplicate: 1}, true},
	} {
		if got := needsNetem(c.p); got != c.want {
			t.Errorf("needsNetem(%+v) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestNetemAttrs(t *testing.T) {
	p := netem.Profile{Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, DelayCorr: 25, Loss: netem.Loss{P: 1.5, Corr: 5},
		Duplicate: 2, Corrupt: 0.5, Reorder: 3, Gap: 4, Rate: 1000}
	got := netemAttrs(p)
	want := netlink.NetemQdiscAttrs{Latency: 100_000, Jitter: 10_000, DelayCorr: 25, Limit: 1000, Loss: 1.5, LossCorr: 5,
		Gap: 4, Duplicate: 2, ReorderProb: 3, CorruptProb: 0.5}
	if got != want {
		t.Errorf("netemAttrs(%+v) = %+v, want %+v", p, got, want)
	}
}

func TestClassPlan(t *testing.T) {
	up := netem.Profile{Rate: 1000}
	cfg := QdiscConfig{Groups: []QdiscGroup{
		{First: 0, Count: 4, Link: netem.Link{Up: up}},
		{First: 4, Count: 2, PerDevice: true, Link: netem.Link{Up: up, Down: up}},
		{First: 6, Count: 10},
	}}
	devices := DefaultDevices
	for _, c := range []struct {
		d    qdiscDir
		want [][]string
	}{
		{upDir, [][]string{{"10.77.0.1/32", "10.77.0.2/31", "10.77.0.4/32"}, {"10.77.0.5/32"}, {"10.77.0.6/32"}}},
		{downDir, [][]string{{"10.77.0.5/32"}, {"10.77.0.6/32"}}},
	} {
		var got [][]string
		for _, cl := range classPlan(cfg, devices, c.d) {
			var rs []string
			for _, r := range cl.ranges {
				rs = append(rs, r.String())
			}
			got = append(got, rs)
		}
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("classPlan(offset %d) = %v, want %v", c.d.offset, got, c.want)
		}
	}
}

func TestQdiscConfigValidate(t *testing.T) {
	ok := netem.Link{Up: netem.Profile{Rate: 1000}}
	for _, c := range []struct {
		name string
		cfg  QdiscConfig
		ok   bool
	}{
		{"empty", QdiscConfig{}, true},
		{"groups", QdiscConfig{Groups: []QdiscGroup{{Count: 3, Link: ok}, {First: 3, Count: 3}}}, true},
		{"overlap", QdiscConfig{Groups: []QdiscGroup{{Count: 3, Link: ok}, {First: 2, Count: 3}}}, false},
		{"empty group", QdiscConfig{Groups: []QdiscGroup{{First: 1}}}, false},
		{"outside", QdiscConfig{Devices: netip.MustParsePrefix("10.77.0.0/24"), Groups: []QdiscGroup{{First: 250, Count: 10}}}, false},
		{"invalid link", QdiscConfig{Groups: []QdiscGroup{{Count: 1, Link: netem.Link{Up: netem.Profile{Delay: -1}}}}}, false},
		{"too many classes", QdiscConfig{Groups: []QdiscGroup{{Count: 65534, PerDevice: true, Link: ok}}}, false},
	} {
		if err := c.cfg.validate(); (err == nil) != c.ok {
			t.Errorf("%s: validate() = %v, want ok %v", c.name, err, c.ok)
		}
	}
}
