package sim

import (
	"math"
	"math/bits"
	"time"
)

// purpose separates the random streams a device draws from, so that one
// stream's use (a reconnect, say) never shifts another's (the report
// times). Every draw is a pure function of (seed, device, purpose, n):
// the schedule is the same whatever happens at run time.
type purpose uint64

const (
	purposeTelemetry purpose = iota + 1
	purposeCommand
	purposeRequest
	purposeBackoff
	purposePayload
	purposePaging
	purposeWake
	purposeChannel
	purposeBurst
	purposePower
	purposeSample
)

// mix is SplitMix64's finaliser over the combined inputs.
func mix(seed uint64, dev int, p purpose, n uint64) uint64 {
	x := seed ^ uint64(p)<<56 ^ uint64(dev)*0x9e3779b97f4a7c15 ^ n*0xbf58476d1ce4e5b9
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// uniform maps h onto [0, n) without modulo bias worth measuring.
func uniform(h uint64, n int64) int64 {
	if n <= 0 {
		return 0
	}
	hi, _ := bits.Mul64(h, uint64(n))
	return int64(hi)
}

// periodic is a device's schedule for one periodic flow: slot k is due at
// phase + k*every, moved by a jitter drawn for that slot.
type periodic struct {
	every, jitter time.Duration
	aligned       bool
	p             purpose
	// driftPPM bounds each device's clock error: its period is every
	// times (1 + e), e uniform in +/- driftPPM parts per million.
	driftPPM float64
}

// period is the device's own period under its clock drift.
func (s periodic) period(seed uint64, dev int) time.Duration {
	if s.driftPPM == 0 {
		return s.every
	}
	u := float64(uniform(mix(seed, dev, s.p, 1<<62), 1<<53)) / (1 << 53)
	return time.Duration(float64(s.every) * (1 + (2*u-1)*s.driftPPM/1e6))
}

func (s periodic) phase(seed uint64, dev int) time.Duration {
	if s.aligned {
		return 0
	}
	return time.Duration(uniform(mix(seed, dev, s.p, 0), int64(s.every)))
}

// due returns when slot k is due, from the start of the run.
func (s periodic) due(seed uint64, dev int, k uint64) time.Duration {
	d := s.phase(seed, dev) + time.Duration(k)*s.period(seed, dev)
	if s.jitter > 0 {
		d += time.Duration(uniform(mix(seed, dev, s.p, k+1), 2*int64(s.jitter)+1)) - s.jitter
	}
	return d
}

// firstSlot returns the first slot whose unjittered time is at or after t.
func (s periodic) firstSlot(seed uint64, dev int, t time.Duration) uint64 {
	ph := s.phase(seed, dev)
	if t <= ph {
		return 0
	}
	every := s.period(seed, dev)
	return uint64((t - ph + every - 1) / every)
}

// burstGap returns the gap before a device's burst n: exponential with
// the given mean, so bursts arrive as a Poisson process.
func burstGap(seed uint64, dev int, n uint64, mean time.Duration) time.Duration {
	u := (float64(uniform(mix(seed, dev, purposeBurst, n), 1<<53)) + 0.5) / (1 << 53)
	return time.Duration(-math.Log(u) * float64(mean))
}

// level returns how many devices the stages want active at t; past the
// last stage it holds the last stage's level.
func level(stages []Stage, total int, t time.Duration) int {
	if len(stages) == 0 {
		return total
	}
	prev, start := 0, time.Duration(0)
	for _, st := range stages {
		end := start + st.Duration
		if t < end {
			frac := float64(t-start) / float64(st.Duration)
			return prev + int(float64(st.Devices-prev)*frac)
		}
		prev, start = st.Devices, end
	}
	return prev
}
