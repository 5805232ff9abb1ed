package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestAllocRefSkipsZero(t *testing.T) {
	d := &device{nextRef: math.MaxUint32 - 1}
	var got []Ref
	for range 3 {
		got = append(got, d.allocRef())
	}
	if want := []Ref{math.MaxUint32, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("allocRef x3 from %d = %v, want %v", uint32(math.MaxUint32-1), got, want)
	}
}

func TestAckAndDrop(t *testing.T) {
	d := &device{inflight: []inflight{
		{ref: 1, kind: jobTelemetry, intended: time.Second},
		{ref: 2, kind: jobRequest, intended: 2 * time.Second},
		{ref: 3, kind: jobTelemetry, intended: 3 * time.Second},
	}}
	f, ok := d.ack(2)
	if want := (inflight{ref: 2, kind: jobRequest, intended: 2 * time.Second}); !ok || f != want {
		t.Errorf("ack(2) = %+v, %v, want %+v, true", f, ok, want)
	}
	for _, ref := range []Ref{2, 99, 0} {
		if f, ok := d.ack(ref); ok {
			t.Errorf("ack(%d) of a ref not in flight = %+v, true, want false", ref, f)
		}
	}
	if f, ok := d.ack(3); !ok || f.ref != 3 || f.kind != jobTelemetry || f.intended != 3*time.Second {
		t.Errorf("ack(3) = %+v, %v, want {ref 3, telemetry, 3s}, true", f, ok)
	}
	if n := d.drop(); n != 1 || len(d.inflight) != 0 {
		t.Errorf("drop() = %d leaving %d in flight, want 1 leaving 0", n, len(d.inflight))
	}
	if n := d.drop(); n != 0 {
		t.Errorf("drop() on an empty list = %d, want 0", n)
	}
}

func TestWindowSeen(t *testing.T) {
	type step struct {
		seq uint32
		dup bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"first sight then repeat", []step{{1, false}, {1, true}, {2, false}, {2, true}, {1, true}}},
		{"zero first", []step{{0, false}, {0, true}, {1, false}}},
		{"first sight high, lower later", []step{{100, false}, {50, false}, {50, true}}},
		{"out of order within 64", []step{{10, false}, {5, false}, {5, true}, {8, false}, {10, true}, {8, true}, {9, false}}},
		{"edge of the window", []step{{100, false}, {37, false}, {37, true}, {36, true}}},
		{"older than 64", []step{{1, false}, {200, false}, {100, true}, {136, true}, {137, false}}},
		{"shift by 63 keeps history", []step{{1, false}, {2, false}, {65, false}, {2, true}, {3, false}, {1, true}}},
		{"shift by 64 resets", []step{{1, false}, {65, false}, {2, false}, {2, true}}},
		{"big jump resets", []step{{1, false}, {2, false}, {1000, false}, {1000, true}, {999, false}, {937, false}, {936, true}, {2, true}}},
		{"near the top of uint32", []step{{math.MaxUint32, false}, {math.MaxUint32, true}, {math.MaxUint32 - 1, false}, {math.MaxUint32 - 1, true}}},
	}
	for _, c := range cases {
		var w window
		for i, s := range c.steps {
			if got := w.seen(s.seq); got != s.dup {
				t.Errorf("%s: step %d: seen(%d) = %v, want %v", c.name, i, s.seq, got, s.dup)
			}
		}
	}
}

func TestWindowSeenMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed, 4))
	var w window
	seen := make(map[uint32]bool)
	top, started := uint32(0), false
	base := uint32(1000)
	for i := range 100_000 {
		switch x := r.IntN(1000); {
		case x == 0:
			base += 50 + uint32(r.IntN(200)) // a gap wider than the window
		case x < 300:
			base++
		}
		seq := base - uint32(r.IntN(80))
		// Older than the window counts as a duplicate, seen or not.
		want := seen[seq] || (started && top-seq >= 64 && seq < top)
		if got := w.seen(seq); got != want {
			t.Fatalf("step %d: seen(%d) with top %d = %v, want %v", i, seq, top, got, want)
		}
		seen[seq] = true
		if !started || seq > top {
			top, started = seq, true
		}
	}
}
