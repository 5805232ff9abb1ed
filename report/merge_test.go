package report

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// mergeParts records the same event stream into one collector for the
// whole fleet and, split by device, into two for its halves; the second
// half starts shift later by the wall clock and reports its events that
// much earlier on its own clock. Shifted parts have no stages: their
// stages would not be the whole's.
func mergeParts(t *testing.T, shift time.Duration) (whole, a, b *Result) {
	t.Helper()
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	info := func(devices int, started time.Time) Info {
		i := Info{Name: "m", Devices: devices, Duration: 10 * time.Second, Started: started,
			Groups: []GroupInfo{{Name: "g", Devices: devices}}}
		if shift == 0 {
			i.Stages = []sim.Stage{{Name: "s1", Duration: 5 * time.Second, Devices: devices / 2}, {Name: "s2", Duration: 5 * time.Second, Devices: devices}}
		}
		return i
	}
	cw, ca, cb := NewCollector(info(100, start)), NewCollector(info(50, start)), NewCollector(info(50, start.Add(shift)))
	for i := range 2000 {
		at := time.Duration(i) * 5 * time.Millisecond
		lat := time.Duration(100+i%997) * time.Microsecond * time.Duration(1+i%7)
		es := []sim.Event{
			{Kind: sim.Published, At: at, Intended: at, Timed: true},
			{Kind: sim.Acked, At: at + lat, Latency: lat, Intended: at, Timed: true},
			{Kind: sim.Delivered, At: at + 2*lat, Latency: 2 * lat, Intended: at},
		}
		if i%250 == 0 {
			es = append(es, sim.Event{Kind: sim.PublishFailed, At: at, Err: "timeout"})
		}
		part, by := ca, time.Duration(0)
		if i%2 == 1 {
			part, by = cb, shift
		}
		if at < by {
			continue // before the second part began
		}
		for _, e := range es {
			cw.Record(e)
			e.At, e.Intended = e.At-by, e.Intended-by
			part.Record(e)
		}
	}
	th, _ := ParseThreshold("latency.ack.p99 < 5ms")
	whole, a, b = cw.Result(StatusPassed, 10*time.Second), ca.Result(StatusPassed, 10*time.Second), cb.Result(StatusPassed, 10*time.Second-shift)
	for _, r := range []*Result{whole, a, b} {
		Evaluate(r, []Threshold{th})
	}
	return whole, a, b
}

func TestMergeEqualsTheWhole(t *testing.T) {
	for _, shift := range []time.Duration{0, 2 * time.Second} {
		testMergeEqualsTheWhole(t, shift)
	}
}

func testMergeEqualsTheWhole(t *testing.T, shift time.Duration) {
	whole, a, b := mergeParts(t, shift)
	got, err := Merge(b, a)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	gb, _ := MarshalResult(got)
	wb, _ := MarshalResult(whole)
	if !bytes.Equal(gb, wb) {
		t.Errorf("Merge(parts started %v apart) differs from the whole:\n%s", shift, firstDiff(gb, wb))
	}
	if got.Messages.Sent != whole.Messages.Sent || got.LatencyMS.Ack.P99 != whole.LatencyMS.Ack.P99 {
		t.Errorf("merged sent %d ack p99 %v, want %d and %v", got.Messages.Sent, got.LatencyMS.Ack.P99, whole.Messages.Sent, whole.LatencyMS.Ack.P99)
	}
}

func TestMergeRefusesIncompatibleParts(t *testing.T) {
	_, a, b := mergeParts(t, 0)
	b.Metrics.IntervalS = 2
	if _, err := Merge(a, b); err == nil {
		t.Error("Merge of results with 1 s and 2 s intervals succeeded")
	}
	a.Metrics = nil
	if _, err := Merge(a); !errors.Is(err, ErrNoMetrics) {
		t.Errorf("Merge of a result without metrics = %v, want ErrNoMetrics", err)
	}
}
