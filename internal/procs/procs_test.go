package procs

import (
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestPolicyGrowsAtOnceAndShrinksAfterTheHold(t *testing.T) {
	p := &policy{max: 4, hold: 3}
	steps := []struct {
		busy float64
		want int
	}{
		{0.9, 4}, // 4 Ps, under a quarter busy each: 3 would do, but not yet
		{0.9, 4},
		{1.1, 3}, // the third tick in a row that fewer fitted: the most any needed
		{0.2, 3},
		{0.2, 3},
		{0.2, 1}, // held again: down to what the lull needs
		{0.5, 1}, // half of one P: under upShare, stays
		{0.7, 2}, // over upShare: grows within the tick
		{2.5, 4}, // and again, straight to what it needs, capped at max
		{9.0, 4},
	}
	cur := 4
	for i, s := range steps {
		cur = p.next(cur, s.busy)
		if cur != s.want {
			t.Fatalf("step %d (busy %.1f): %d Ps, want %d", i, s.busy, cur, s.want)
		}
	}
}

func TestPolicyALoadBackToTheTopResetsTheHold(t *testing.T) {
	p := &policy{max: 2, hold: 3}
	cur := 2
	for _, busy := range []float64{0.1, 0.1, 0.9, 0.1, 0.1} {
		cur = p.next(cur, busy)
	}
	if cur != 2 {
		t.Fatalf("%d Ps after a busy tick broke the lull, want 2 until three quiet ticks in a row", cur)
	}
	if cur = p.next(cur, 0.1); cur != 1 {
		t.Fatalf("%d Ps after three quiet ticks in a row, want 1", cur)
	}
}

func TestPolicyNeverLeavesItsRange(t *testing.T) {
	for _, busy := range []float64{-1, 0, 1e-9, 0.5, 1, 7.3, math.Inf(1)} {
		for cur := 1; cur <= 3; cur++ {
			p := &policy{max: 3, hold: 1}
			if n := p.next(cur, busy); n < 1 || n > 3 {
				t.Fatalf("busy %v from %d Ps: %d, outside 1..3", busy, cur, n)
			}
		}
	}
}

// fakeCPU is a process that burns busy cores of CPU time.
type fakeCPU struct {
	busy  atomic.Uint64 // math.Float64bits of cores
	start time.Time
	used  atomic.Int64 // CPU time so far, ns
	last  atomic.Int64 // wall time of the last reading, ns since start
}

func (f *fakeCPU) read() time.Duration {
	now := int64(time.Since(f.start))
	dt := now - f.last.Swap(now)
	return time.Duration(f.used.Add(int64(float64(dt) * math.Float64frombits(f.busy.Load()))))
}

func (f *fakeCPU) set(cores float64) { f.busy.Store(math.Float64bits(cores)) }

func TestGovernorFollowsTheLoadAndRestores(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	f := &fakeCPU{start: time.Now()}
	f.set(0.1)
	g := start(2, f.read, 2*time.Millisecond, 3)
	if g.Procs() != 2 || runtime.GOMAXPROCS(0) != 2 {
		t.Fatalf("starts at %d Ps (GOMAXPROCS %d), want the top, 2", g.Procs(), runtime.GOMAXPROCS(0))
	}
	await := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for g.Procs() != want || runtime.GOMAXPROCS(0) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d Ps (GOMAXPROCS %d) after 10 s, want %d", g.Procs(), runtime.GOMAXPROCS(0), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	await(1)
	f.set(1.5)
	await(2)
	if g.Max() != 2 {
		t.Fatalf("Max %d, want 2", g.Max())
	}
	g.Stop()
	g.Stop() // a second Stop is harmless
	if n := runtime.GOMAXPROCS(0); n != before {
		t.Fatalf("GOMAXPROCS %d after Stop, want %d as before", n, before)
	}
}

func TestFixedSetsAndRestores(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	g := Fixed(1)
	if runtime.GOMAXPROCS(0) != 1 || g.Procs() != 1 || g.Max() != 1 {
		t.Fatalf("GOMAXPROCS %d, Procs %d, Max %d; want 1", runtime.GOMAXPROCS(0), g.Procs(), g.Max())
	}
	g.Stop()
	if n := runtime.GOMAXPROCS(0); n != before {
		t.Fatalf("GOMAXPROCS %d after Stop, want %d", n, before)
	}
}
