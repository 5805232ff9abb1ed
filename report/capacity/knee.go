package capacity

import "math"

// flatMS and flatShare bound a flat latency curve: p99 varies by less than
// 1 ms or less than 10 % of its lowest value across all loads.
const (
	flatMS    = 1.0
	flatShare = 0.1
)

// point is one load on the latency curve: the stage standing for it.
type point struct {
	index   int     // into the stages given to Analyze
	devices int     // the load
	p99     float64 // as measured: +Inf beyond reach
}

// curve is p99 against load, one point per load, in order of load.
type curve []point

// latencyCurve builds the curve from the stages in loads (in order of
// load); of stages sharing a load, the one with the worst p99 stands for
// it.
func latencyCurve(stages []Stage, loads []int) curve {
	var c curve
	for _, i := range loads {
		s := stages[i]
		if math.IsNaN(s.P99MS) || s.P99MS < 0 {
			continue
		}
		p := point{index: i, devices: s.Devices, p99: s.P99MS}
		if n := len(c); n > 0 && c[n-1].devices == p.devices {
			if p.p99 > c[n-1].p99 {
				c[n-1] = p
			}
			continue
		}
		c = append(c, p)
	}
	return c
}

// kneeFinding is a Knee with the curve it was sought on and its position
// there (-1 without a knee).
type kneeFinding struct {
	knee  Knee
	curve curve
	at    int
}

// findKnee looks for the knee of c.
func findKnee(c curve) kneeFinding {
	f := kneeFinding{knee: Knee{Index: -1}, curve: c, at: -1}
	switch {
	case len(c) == 0:
		f.knee.Method = MethodNoLatency
	case c.allBeyond():
		f.knee.Method = MethodBeyond
	case len(c) < 3:
		f.knee.Method = MethodFewLoads
	case c.flat():
		f.knee.Method = MethodFlat
	default:
		f.knee.Method = MethodKneedle
		x, y := c.xy()
		if i, ok := Kneedle(x, y, 1); ok {
			f.at = i
			f.knee = Knee{Found: true, Index: c[i].index, Devices: c[i].devices, Method: MethodKneedle}
		}
	}
	return f
}

// allBeyond reports whether every p99 is beyond reach.
func (c curve) allBeyond() bool {
	for _, p := range c {
		if !math.IsInf(p.p99, 1) {
			return false
		}
	}
	return true
}

// span is the lowest and highest finite p99.
func (c curve) span() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range c {
		if !math.IsInf(p.p99, 1) {
			lo, hi = min(lo, p.p99), max(hi, p.p99)
		}
	}
	return lo, hi
}

// flat reports whether p99 varies by less than flatMS or flatShare of its
// lowest value; a p99 beyond reach is never flat.
func (c curve) flat() bool {
	if !c.allFinite() {
		return false
	}
	lo, hi := c.span()
	return hi-lo < max(flatMS, flatShare*lo)
}

// allFinite reports whether no p99 is beyond reach.
func (c curve) allFinite() bool {
	for _, p := range c {
		if math.IsInf(p.p99, 1) {
			return false
		}
	}
	return true
}

// xy is the curve as numbers for Kneedle. A p99 beyond reach is larger
// than any measured one but has no value, so it is clamped to twice the
// largest finite p99 (at least 1 ms above it): enough to make the curve
// climb there without letting one lost stage flatten the rest.
func (c curve) xy() (x, y []float64) {
	_, hi := c.span()
	ceiling := max(2*hi, hi+1)
	x, y = make([]float64, len(c)), make([]float64, len(c))
	for i, p := range c {
		x[i], y[i] = float64(p.devices), min(p.p99, ceiling)
	}
	return x, y
}
