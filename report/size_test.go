package report

import (
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// An hour of 10,000 devices reporting every 10 s (1,000 messages a
// second, each timed end to end, in two groups) writes a result of at
// most ~5 MB, histograms of every interval included.
func TestHourOfTenThousandDevicesStaysSmall(t *testing.T) {
	c := NewCollector(Info{Devices: 10_000, Duration: time.Hour,
		Groups: []GroupInfo{{Name: "meters", Devices: 5000}, {Name: "trackers", Devices: 5000}}})
	lat := lognormal(7, 1<<16)
	const perSecond = 1000
	for i := range 3600 * perSecond {
		at := time.Duration(i) * time.Second / perSecond
		d := lat[i%len(lat)] / 2 // about 1 ms
		g := i % 2
		c.Record(sim.Event{Kind: sim.Published, Group: g, At: at, Intended: at, Latency: d / 40, Timed: true})
		c.Record(sim.Event{Kind: sim.Acked, Group: g, At: at + d, Latency: d, Intended: at, Timed: true})
		c.Record(sim.Event{Kind: sim.BackendLag, Group: g, At: at + 2*d, Latency: d / 50})
		c.Record(sim.Event{Kind: sim.Delivered, Group: g, At: at + 2*d, Latency: 2 * d, Intended: at})
	}
	b, err := MarshalResult(c.Result(StatusPassed, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("result.json of an hour of 10,000 devices: %.2f MB", float64(len(b))/1e6)
	if len(b) > 5_500_000 {
		t.Errorf("result.json of an hour of 10,000 devices is %.2f MB, want at most ~5 MB", float64(len(b))/1e6)
	}
}
