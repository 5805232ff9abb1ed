package scenarios

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/m2msim/m2msim/sim"
)

func livePIDs(t *pidTable) []uint16 {
	ids := make([]uint16, len(t.live))
	for i, p := range t.live {
		ids[i] = p.pid
	}
	slices.Sort(ids)
	return ids
}

func tableWith(next uint16, live []uint16) *pidTable {
	t := &pidTable{next: next}
	for _, id := range live {
		t.live = append(t.live, pidRef{pid: id, ref: sim.Ref(id) + 1000})
	}
	return t
}

func TestPIDTableSequence(t *testing.T) {
	cases := []struct {
		name string
		next uint16
		live []uint16
		want []uint16
	}{
		{"fresh", 0, nil, []uint16{1, 2, 3}},
		{"skips in flight", 0, []uint16{2, 3, 5}, []uint16{1, 4, 6}},
		{"wraps past 0", 65533, nil, []uint16{65534, 65535, 1, 2}},
		{"wraps past 0 and in flight", 65533, []uint16{65535, 1, 2}, []uint16{65534, 3, 4}},
	}
	for _, c := range cases {
		tb := tableWith(c.next, c.live)
		var got []uint16
		for i := range c.want {
			got = append(got, tb.add(sim.Ref(i+1)))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: add x%d from next %d, in flight %v = %v, want %v", c.name, len(c.want), c.next, c.live, got, c.want)
		}
	}
}

func TestPIDTableNeverZero(t *testing.T) {
	tb := &pidTable{}
	for i := range 3 * 65536 {
		id := tb.add(sim.Ref(i + 1))
		if id == 0 {
			t.Fatalf("add call %d = 0, want a non-zero packet id", i)
		}
		tb.take(id)
	}
}

func TestPIDTableLastFreeID(t *testing.T) {
	var live []uint16
	for id := 1; id <= math.MaxUint16; id++ {
		if id != 4242 {
			live = append(live, uint16(id))
		}
	}
	if got := tableWith(4240, live).add(7); got != 4242 {
		t.Errorf("add with only 4242 free = %d, want 4242", got)
	}
}

func TestPIDTableAvoidsInFlightAcrossWrap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	live := map[uint16]bool{}
	var start []uint16
	for len(live) < 500 {
		id := uint16(1 + r.IntN(math.MaxUint16))
		if !live[id] {
			live[id] = true
			start = append(start, id)
		}
	}
	tb := tableWith(60000, start)
	wrapped := false
	for i := range 20_000 {
		before := tb.next
		id := tb.add(sim.Ref(i + 1))
		wrapped = wrapped || id < before
		if id == 0 || live[id] {
			t.Fatalf("add call %d = %d, want non-zero and not in flight", i, id)
		}
		live[id] = true
		// Ack a random in-flight message to keep the window at 500.
		gone := tb.live[r.IntN(len(tb.live))].pid
		if _, ok := tb.take(gone); !ok {
			t.Fatalf("take(%d) of an in-flight id = false, want true", gone)
		}
		delete(live, gone)
	}
	if !wrapped {
		t.Errorf("20k allocations from 60000 never wrapped past 65535: the test lost its point")
	}
}

func TestPIDTableTakeReturnsTheRef(t *testing.T) {
	tb := &pidTable{}
	a, b, c := tb.add(11), tb.add(22), tb.add(33)
	if ref, ok := tb.take(b); !ok || ref != 22 {
		t.Errorf("take(%d) = %d, %v, want 22, true", b, ref, ok)
	}
	if got := livePIDs(tb); !slices.Equal(got, []uint16{a, c}) {
		t.Errorf("after take(%d), in flight = %v, want [%d %d]", b, got, a, c)
	}
	for _, id := range []uint16{b, 99, 0} {
		if ref, ok := tb.take(id); ok {
			t.Errorf("take(%d) of an id not in flight = %d, true, want false", id, ref)
		}
	}
	if ref, ok := tb.take(c); !ok || ref != 33 {
		t.Errorf("take(%d) = %d, %v, want 33, true", c, ref, ok)
	}
}
