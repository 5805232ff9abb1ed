package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func inflightIDs(d *device) []uint16 {
	ids := make([]uint16, len(d.inflight))
	for i, f := range d.inflight {
		ids[i] = f.id
	}
	slices.Sort(ids)
	return ids
}

func TestAllocIDSequence(t *testing.T) {
	cases := []struct {
		name     string
		next     uint16
		inflight []uint16
		want     []uint16
	}{
		{"fresh", 0, nil, []uint16{1, 2, 3}},
		{"skips in flight", 0, []uint16{2, 3, 5}, []uint16{1, 4, 6}},
		{"wraps past 0", 65533, nil, []uint16{65534, 65535, 1, 2}},
		{"wraps past 0 and in flight", 65533, []uint16{65535, 1, 2}, []uint16{65534, 3, 4}},
	}
	for _, c := range cases {
		d := &device{nextID: c.next}
		for _, id := range c.inflight {
			d.inflight = append(d.inflight, inflight{id: id})
		}
		var got []uint16
		for range c.want {
			got = append(got, d.allocID())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: allocID x%d from nextID %d, in flight %v = %v, want %v", c.name, len(c.want), c.next, c.inflight, got, c.want)
		}
	}
}

func TestAllocIDNeverZero(t *testing.T) {
	d := &device{}
	for i := range 3 * 65536 {
		if id := d.allocID(); id == 0 {
			t.Fatalf("allocID call %d = 0, want a non-zero packet id", i)
		}
	}
}

func TestAllocIDLastFreeID(t *testing.T) {
	d := &device{nextID: 4240}
	for id := 1; id <= math.MaxUint16; id++ {
		if id != 4242 {
			d.inflight = append(d.inflight, inflight{id: uint16(id)})
		}
	}
	if got := d.allocID(); got != 4242 {
		t.Errorf("allocID with only 4242 free = %d, want 4242", got)
	}
}

func TestAllocIDAvoidsInFlightAcrossWrap(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed, 3))
	d := &device{nextID: 60000}
	live := make(map[uint16]bool)
	for len(live) < 500 {
		id := uint16(1 + r.IntN(math.MaxUint16))
		if !live[id] {
			live[id] = true
			d.inflight = append(d.inflight, inflight{id: id})
		}
	}
	wrapped := false
	for i := range 20_000 {
		before := d.nextID
		id := d.allocID()
		wrapped = wrapped || id < before
		if id == 0 || live[id] {
			t.Fatalf("allocID call %d = %d, want non-zero and not in flight", i, id)
		}
		d.inflight = append(d.inflight, inflight{id: id})
		live[id] = true
		// Ack a random in-flight message to keep the window at 500.
		gone := d.inflight[r.IntN(len(d.inflight))].id
		if _, ok := d.ack(gone); !ok {
			t.Fatalf("ack(%d) of an in-flight id = false, want true", gone)
		}
		delete(live, gone)
	}
	if !wrapped {
		t.Errorf("20k allocations from 60000 never wrapped past 65535: the test lost its point")
	}
}

func TestAllocIDAckAndDrop(t *testing.T) {
	d := &device{inflight: []inflight{
		{id: 1, timed: true, intended: time.Second},
		{id: 2, timed: false, intended: 2 * time.Second},
		{id: 3, timed: true, intended: 3 * time.Second},
	}}
	f, ok := d.ack(2)
	if want := (inflight{id: 2, intended: 2 * time.Second}); !ok || f != want {
		t.Errorf("ack(2) = %+v, %v, want %+v, true", f, ok, want)
	}
	if got := inflightIDs(d); !slices.Equal(got, []uint16{1, 3}) {
		t.Errorf("after ack(2), in flight = %v, want [1 3]", got)
	}
	for _, id := range []uint16{2, 99, 0} {
		if f, ok := d.ack(id); ok {
			t.Errorf("ack(%d) of an id not in flight = %+v, true, want false", id, f)
		}
	}
	if f, ok := d.ack(3); !ok || f.id != 3 || !f.timed || f.intended != 3*time.Second {
		t.Errorf("ack(3) = %+v, %v, want {id 3, timed, 3s}, true", f, ok)
	}
	if n := d.drop(); n != 1 || len(d.inflight) != 0 {
		t.Errorf("drop() = %d leaving %d in flight, want 1 leaving 0", n, len(d.inflight))
	}
	if n := d.drop(); n != 0 {
		t.Errorf("drop() on an empty list = %d, want 0", n)
	}
	if got := d.allocID(); got != 1 {
		t.Errorf("allocID after drop = %d, want 1 (ids free again)", got)
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
