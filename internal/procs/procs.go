// Package procs sizes GOMAXPROCS to the load m2msim carries.
//
// A light load spread over every core costs more CPU than the same load on
// one: each goroutine a timer or a socket wakes while a P is idle makes
// the runtime wake a second thread (a futex call and two context
// switches, dear in a virtual machine), which finds nothing to do and
// sleeps again. At 5,000 messages a second m2msim spent a third less CPU
// per message with GOMAXPROCS=1 than with 2 (bench/cpu-per-message), and
// left that core to a broker under test on the same machine. A governor
// therefore runs m2msim on as few Ps as keep each under 40 % busy, and
// grows back within a tick once each passes 60 %: a busier P would delay
// the goroutines that time acknowledgements.
package procs

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// upShare is how busy each P may get before the governor adds Ps.
	upShare = 0.6
	// downShare is how busy each P may be on the fewer Ps the governor
	// moves to: the gap to upShare keeps it from flapping.
	downShare = 0.4
	// tick is how often the governor looks at the process's CPU time.
	tick = 100 * time.Millisecond
	// holdTicks is how long fewer Ps must have sufficed before the
	// governor takes Ps away: a short lull is not a lighter load.
	holdTicks = 30
)

// policy decides the next number of Ps from how busy the process was
// (in cores) over the last tick. It grows at once and shrinks only after
// holdTicks ticks in a row that fewer Ps would have carried, to the most
// any of them needed.
type policy struct {
	max  int // the most Ps it may use
	hold int // ticks fewer Ps must fit before shrinking
	fits int // ticks in a row that fewer Ps would have carried
	need int // the most Ps any of those ticks needed
}

func (p *policy) next(cur int, busy float64) int {
	want := min(p.max, max(1, int(math.Ceil(busy/downShare))))
	switch {
	case busy > upShare*float64(cur) && cur < p.max:
		p.fits, p.need = 0, 0
		return max(want, cur+1)
	case want >= cur:
		p.fits, p.need = 0, 0
		return cur
	}
	p.fits++
	p.need = max(p.need, want)
	if p.fits < p.hold {
		return cur
	}
	n := p.need
	p.fits, p.need = 0, 0
	return n
}

// Governor holds GOMAXPROCS for one run: sized to the load (Auto) or
// fixed (Fixed). Stop gives back the value it found.
type Governor struct {
	max, prev int
	cur       atomic.Int32
	done      chan struct{}
	exited    chan struct{}
	stop      sync.Once
}

// Auto starts a governor that moves GOMAXPROCS between 1 and its current
// value (the cores the process may use, or $GOMAXPROCS), starting at the
// top, so a run's first connections get every core. cpu reads the CPU
// time the process has used so far.
func Auto(cpu func() time.Duration) *Governor {
	return start(runtime.GOMAXPROCS(0), cpu, tick, holdTicks)
}

// Fixed sets GOMAXPROCS to n for the run; n <= 0 keeps it as it is.
func Fixed(n int) *Governor {
	prev := runtime.GOMAXPROCS(n)
	if n <= 0 {
		n = prev
	}
	g := &Governor{max: n, prev: prev}
	g.cur.Store(int32(n))
	return g
}

func start(maxProcs int, cpu func() time.Duration, every time.Duration, hold int) *Governor {
	g := &Governor{max: maxProcs, prev: runtime.GOMAXPROCS(0), done: make(chan struct{}), exited: make(chan struct{})}
	g.cur.Store(int32(maxProcs))
	runtime.GOMAXPROCS(maxProcs)
	go g.run(cpu, every, &policy{max: maxProcs, hold: hold})
	return g
}

func (g *Governor) run(cpu func() time.Duration, every time.Duration, p *policy) {
	defer close(g.exited)
	t := time.NewTicker(every)
	defer t.Stop()
	lastCPU, lastAt := cpu(), time.Now()
	for {
		select {
		case <-g.done:
			return
		case now := <-t.C:
			c := cpu()
			wall := now.Sub(lastAt)
			if wall <= 0 {
				continue
			}
			busy := float64(c-lastCPU) / float64(wall)
			lastCPU, lastAt = c, now
			cur := int(g.cur.Load())
			if n := p.next(cur, busy); n != cur {
				runtime.GOMAXPROCS(n)
				g.cur.Store(int32(n))
			}
		}
	}
}

// Max is the most Ps the run may use.
func (g *Governor) Max() int { return g.max }

// Procs is the number of Ps now.
func (g *Governor) Procs() int { return int(g.cur.Load()) }

// Stop ends the governor and restores GOMAXPROCS as it found it.
func (g *Governor) Stop() {
	g.stop.Do(func() {
		if g.done != nil {
			close(g.done)
			<-g.exited
		}
		runtime.GOMAXPROCS(g.prev)
	})
}
