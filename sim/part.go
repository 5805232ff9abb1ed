package sim

import (
	"fmt"
	"math/bits"
	"time"
)

// Part selects one shard of a fleet run over several processes: shard
// Index (0-based) of Count. Each group is cut into Count contiguous device
// ranges, group-local index i going to shard floor(i*Count/group size)
// (so the ranges differ in size by at most one device); a process runs
// only its range of every group. The zero Part runs the whole fleet.
//
// Every process computes the whole fleet's schedule — activation order
// and times, connect slots, report times — as pure functions of the plan
// and the global device index, and acts only for its own devices: the
// union of the shards' schedules is the single-process schedule.
type Part struct {
	Index, Count int
}

// Whole reports whether p runs the whole fleet.
func (p Part) Whole() bool { return p.Count <= 1 }

// check rejects an impossible part.
func (p Part) check() error {
	if p.Count < 0 || p.Index < 0 || (p.Count > 0 && p.Index >= p.Count) {
		return fmt.Errorf("sim: shard %d of %d: want 0 <= index < count", p.Index, p.Count)
	}
	return nil
}

// Range returns the group-local device range [lo, hi) that p runs of a
// group of n devices.
func (p Part) Range(n int) (lo, hi int) {
	if p.Whole() {
		return 0, n
	}
	lo = int(int64(n) * int64(p.Index) / int64(p.Count))
	hi = int(int64(n) * int64(p.Index+1) / int64(p.Count))
	return lo, hi
}

// Devices counts the devices p runs of plan.
func (p Part) Devices(plan *Plan) int {
	n := 0
	for _, g := range plan.Groups {
		lo, hi := p.Range(g.Count)
		n += hi - lo
	}
	return n
}

// owns reports whether the engine runs device dev (a fleet index).
func (e *Engine) owns(dev int) bool {
	if e.o.Part.Whole() {
		return true
	}
	gs := &e.groups[e.devs[dev].group]
	i := dev - gs.base
	return i >= gs.lo && i < gs.hi
}

// order walks a group's devices in activation order: the bit-reversal
// (van der Corput) permutation of the group-local indices, skipping those
// past the group's size. Every prefix of it is spread evenly over the
// group, so each shard's contiguous range carries its share of every
// stage of a ramp, whatever the number of shards.
type order struct {
	n    uint64
	bits int
	c    uint64 // cursor in [0, 2^bits]: ranks before it are taken
}

func newOrder(n int) order {
	b := 0
	for uint64(1)<<b < uint64(n) {
		b++
	}
	return order{n: uint64(n), bits: b}
}

func (o *order) at(c uint64) uint64 {
	if o.bits == 0 {
		return 0
	}
	return bits.Reverse64(c) >> (64 - o.bits)
}

// next returns the next device to activate (group-local index).
func (o *order) next() int {
	for {
		i := o.at(o.c)
		o.c++
		if i < o.n {
			return int(i)
		}
	}
}

// prev steps back over the last device next returned and returns it.
func (o *order) prev() int {
	for {
		o.c--
		if i := o.at(o.c); i < o.n {
			return int(i)
		}
	}
}

// groupTarget is how many of a group's count devices the stages want
// active at t.
func groupTarget(stages []Stage, total, count int, t time.Duration) int {
	return int(int64(level(stages, total, t)) * int64(count) / int64(total))
}

// reach returns the earliest time in (from, to] at which the stages want
// more than r of the group's devices active: the exact activation time of
// the group's device of activation rank r, the same in every process
// whichever control ticks it ran. Within a stage the level is monotone, so
// each stage's piece of the interval is searched by bisection.
func reach(stages []Stage, total, count, r int, from, to time.Duration) time.Duration {
	wants := func(t time.Duration) bool { return groupTarget(stages, total, count, t) > r }
	lo := max(from+1, 0)
	end := time.Duration(0)
	for i := 0; lo <= to; i++ {
		hi := to
		if i < len(stages) {
			end += stages[i].Duration
			if end <= lo {
				continue
			}
			hi = min(to, end-1)
		}
		if wants(lo) {
			return lo
		}
		if wants(hi) {
			a, b := lo, hi // wants(a) false, wants(b) true
			for b-a > 1 {
				m := a + (b-a)/2
				if wants(m) {
					b = m
				} else {
					a = m
				}
			}
			return b
		}
		lo = hi + 1
		if i >= len(stages) {
			break
		}
	}
	return to
}

// Timed counts the devices of group g (an index into plan.Groups) in p
// that plan.E2E picks.
func (p Part) Timed(plan *Plan, g int) int {
	if plan.Groups[g].Telemetry == nil || plan.Groups[g].Untimed {
		return 0
	}
	base := 0
	for i := range g {
		base += plan.Groups[i].Count
	}
	lo, hi := p.Range(plan.Groups[g].Count)
	n := 0
	for dev := base + lo; dev < base+hi; dev++ {
		if plan.E2E.picks(plan.Seed, dev) {
			n++
		}
	}
	return n
}

// StageDevices is p's share of a stage level of want devices: its devices
// among those the stages activate to reach want. Shard 0 also takes what
// rounding leaves over, so the shards' shares add up to want.
func (p Part) StageDevices(plan *Plan, want int) int {
	total := plan.Devices()
	if p.Whole() || total == 0 {
		return want
	}
	n, sum := 0, 0
	for _, g := range plan.Groups {
		target := int(int64(want) * int64(g.Count) / int64(total))
		sum += target
		lo, hi := p.Range(g.Count)
		o := newOrder(g.Count)
		for range target {
			if i := o.next(); i >= lo && i < hi {
				n++
			}
		}
	}
	if p.Index == 0 {
		n += want - sum
	}
	return n
}

// scheduleLeft reports whether a queue still holds a job due before the
// plan's end on an uninterrupted run: a late shard finishes its schedule
// in the drain, so that what is sent does not depend on its lag.
func (e *Engine) scheduleLeft() bool {
	if e.cut.Load() {
		return false
	}
	for _, s := range e.shards {
		s.mu.Lock()
		left := len(s.heap) > 0 && s.heap[0].due < e.plan.Duration
		s.mu.Unlock()
		if left {
			return true
		}
	}
	return false
}
