package sim

import (
	"testing"
	"time"
)

func TestPartRangesCoverGroup(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100, 1001} {
		for count := 1; count <= 5; count++ {
			next := 0
			for i := range count {
				lo, hi := Part{Index: i, Count: count}.Range(n)
				if lo != next || hi < lo {
					t.Fatalf("n=%d shard %d/%d: range [%d,%d), want it to start at %d", n, i, count, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("n=%d count=%d: ranges end at %d", n, count, next)
			}
		}
	}
	if err := (Part{Index: 3, Count: 3}).check(); err == nil {
		t.Error("shard 3 of 3 accepted")
	}
}

func TestOrderVisitsEveryDeviceOnceAndSpreadsPrefixes(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 64, 100, 1000} {
		o := newOrder(n)
		seen := make([]bool, n)
		var got []int
		for range n {
			i := o.next()
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("n=%d: order gave %d twice or out of range", n, i)
			}
			seen[i] = true
			got = append(got, i)
		}
		for k := n - 1; k >= 0; k-- {
			if i := o.prev(); i != got[k] {
				t.Fatalf("n=%d: prev gave %d, want %d", n, i, got[k])
			}
		}
	}
	// The first tenth of 1000 devices in activation order: each of four
	// contiguous quarters holds a quarter of them, within a few devices.
	o := newOrder(1000)
	per := make([]int, 4)
	for range 100 {
		lo := o.next()
		per[lo*4/1000]++
	}
	for q, c := range per {
		if c < 22 || c > 28 {
			t.Errorf("quarter %d holds %d of the first 100 activated devices, want about 25", q, c)
		}
	}
}

func TestReachIsWhenTheTargetPassesRank(t *testing.T) {
	stages := []Stage{{Duration: 10 * time.Second, Devices: 600}, {Duration: 5 * time.Second, Devices: 600},
		{Duration: 10 * time.Second, Devices: 1000}}
	const total, count = 1000, 300
	for r := range count {
		at := reach(stages, total, count, r, -1, 30*time.Second)
		if groupTarget(stages, total, count, at) <= r {
			t.Fatalf("rank %d: target at %v is %d", r, at, groupTarget(stages, total, count, at))
		}
		if at > 0 && groupTarget(stages, total, count, at-1) > r {
			t.Fatalf("rank %d: target already passes it at %v", r, at-1)
		}
		// The same answer from any earlier lower bound.
		if got := reach(stages, total, count, r, at/2, 30*time.Second); got != at {
			t.Fatalf("rank %d: %v from %v, %v from the start", r, got, at/2, at)
		}
	}
}

// BenchmarkActivationSchedule is what every shard's controller pays per
// device of the whole fleet: its activation order, exact activation time
// and connect slot, over capacity-ramp's stages.
func BenchmarkActivationSchedule(b *testing.B) {
	var stages []Stage
	for _, n := range []int{1000, 2500, 5000, 7500, 10000} {
		stages = append(stages, Stage{Duration: 5 * time.Second, Devices: n}, Stage{Duration: 15 * time.Second, Devices: n})
	}
	const count = 10000
	b.ReportAllocs()
	for b.Loop() {
		o := newOrder(count)
		var next, horizon time.Duration = 0, -1
		active := 0
		for now := time.Duration(0); now < 100*time.Second; now += 100 * time.Millisecond {
			ahead := now + 100*time.Millisecond
			for up := groupTarget(stages, count, count, ahead); active < up; active++ {
				at := reach(stages, count, count, active, horizon, ahead)
				_ = o.next()
				next = max(at, next) + time.Millisecond/2
			}
			horizon = ahead
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/count, "ns/device")
}
