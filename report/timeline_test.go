package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// timelineCollector records a short staged run with observations, its
// clock stopped at 12.5 s.
func timelineCollector(t *testing.T) *Collector {
	t.Helper()
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	th, err := ParseThreshold("latency.ack.p99 < 10ms")
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector(Info{Name: "tl", Devices: 20, Duration: 12 * time.Second, Started: start,
		Stages:     []sim.Stage{{Name: "low", Duration: 6 * time.Second, Devices: 10}, {Name: "high", Duration: 6 * time.Second, Devices: 20}},
		Groups:     []GroupInfo{{Name: "g", Devices: 20}},
		Thresholds: []Threshold{th}})
	c.now = func() time.Time { return start.Add(12500 * time.Millisecond) }
	for i := range 120 {
		at := time.Duration(i) * 100 * time.Millisecond
		lat := time.Duration(1+i/10) * time.Millisecond
		c.Record(sim.Event{Kind: sim.Published, At: at, Intended: at, Timed: true})
		c.Record(sim.Event{Kind: sim.Acked, At: at + lat, Latency: lat, Intended: at, Timed: true})
		if i%3 != 0 {
			c.Record(sim.Event{Kind: sim.Delivered, At: at + 2*lat, Latency: 2 * lat, Intended: at})
		}
		if i%40 == 0 {
			c.Record(sim.Event{Kind: sim.Connected, At: at, Latency: 30 * time.Millisecond})
			c.Record(sim.Event{Kind: sim.PublishFailed, At: at, Err: "offline"})
		}
		if i%10 == 9 {
			c.Observe(Observation{At: at + 100*time.Millisecond, CPU: time.Duration(i) * 10 * time.Millisecond,
				Census: []sim.Census{{Connected: int64(i / 10), Connecting: 1}}, OpenFiles: 30, OpenFilesLimit: 1024})
		}
	}
	return c
}

// The live collector's points are the ones a finished result's timeline
// gives for the same intervals.
func TestPointsMatchTimeline(t *testing.T) {
	c := timelineCollector(t)
	live := c.Points(0)
	if len(live) != 12 {
		t.Fatalf("Points(0) gave %d points, want 12 complete intervals", len(live))
	}
	_, read := viaJSON(t, c.Result(StatusPassed, 12500*time.Millisecond))
	tl, err := Timeline(read)
	if err != nil {
		t.Fatalf("Timeline: %v", err)
	}
	if len(tl) < len(live) {
		t.Fatalf("Timeline gave %d points, want at least %d", len(tl), len(live))
	}
	for i := range live {
		if !reflect.DeepEqual(live[i], tl[i]) {
			t.Errorf("interval %d: Points = %+v\nTimeline = %+v", i, live[i], tl[i])
		}
	}
	if got := c.Points(11); len(got) != 1 || got[0].T != 12 {
		t.Errorf("Points(11) = %+v, want the one interval ending at 12 s", got)
	}
	p := live[3] // [3 s, 4 s): 10 sends, acks of 4 ms
	if p.Stage != "low" || p.Active != 10 || p.Rates["sent"] != 10 || p.Latency["ack"].P99 != 4 {
		t.Errorf("interval 3 = %+v, want stage low, 10 active, 10 sent/s, ack p99 4 ms", p)
	}
	if p.Devices.Connected != 3 || p.Devices.Connecting != 1 || p.Self.CPUPct != 10 || p.Self.OpenFilesMax != 1024 {
		t.Errorf("interval 3 devices and self = %+v %+v, want the observation at 4 s: 3 connected, 1 connecting, 10%% CPU", p.Devices, p.Self)
	}
	if live[8].Stage != "high" || live[8].Active != 20 {
		t.Errorf("interval 8 = %q with %d active, want high with 20", live[8].Stage, live[8].Active)
	}
}

func TestLive(t *testing.T) {
	c := timelineCollector(t)
	l := c.Live()
	if l.Phase != PhaseDraining || l.Stage != "high" || l.StageIndex != 1 || l.ElapsedS != 12.5 {
		t.Errorf("Live = phase %s, stage %q (%d), elapsed %v; want draining in high (1) at 12.5", l.Phase, l.Stage, l.StageIndex, l.ElapsedS)
	}
	if l.Totals["sent"] != 120 || l.Totals["received"] != 80 || l.Errors["offline"] != 3 {
		t.Errorf("Live totals = %v, errors %v; want 120 sent, 80 received, 3 offline", l.Totals, l.Errors)
	}
	if l.WindowS != 10 || l.Rates["sent"] != 10 {
		t.Errorf("Live window = %vs at %v sent/s, want 10 s at 10/s", l.WindowS, l.Rates["sent"])
	}
	if q := l.Latency["ack"]; q.Max != 12 || q.Count != 100 {
		t.Errorf("Live ack window = %+v, want 100 samples up to 12 ms", q)
	}
	if len(l.Thresholds) != 1 || l.Thresholds[0].Passed {
		t.Errorf("Live thresholds = %+v, want ack p99 < 10ms failed", l.Thresholds)
	}
	if len(l.Groups) != 1 || l.Groups[0].Sent != 120 {
		t.Errorf("Live groups = %+v", l.Groups)
	}
}
