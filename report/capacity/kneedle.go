package capacity

import (
	"cmp"
	"math"
	"slices"
)

// Kneedle finds the knee of an increasing, convex curve y(x), such as p99
// latency against load: the point of maximum curvature, after which y
// climbs. index is into x and y as given; ok is false when there is no
// knee. It follows Satopää, Albrecht, Irwin and Raghavan, "Finding a
// 'Kneedle' in a Haystack" (2011):
//
//  1. points with a non-finite x or y are dropped, the rest taken in order
//     of x (a stable sort, so equal x keep their order);
//  2. x and y are normalised to [0, 1];
//  3. the difference curve is d = xn − yn: the paper's yn − xn for the
//     curve rotated by 180°, which turns an increasing convex curve into
//     the increasing concave one the paper treats;
//  4. at each local maximum of d the threshold is d − S·mean(Δxn), where
//     S is the sensitivity (1 when not positive);
//  5. a local maximum is the knee when d falls below its threshold before
//     the next local maximum.
//
// The paper smooths the curve first; a staged run has too few points for a
// spline, so none is fitted. The scan starts at the lowest x and returns
// the first knee confirmed: the lowest load at which y bends. A maximum at
// the last point is never a knee, as nothing after it shows y climbing; of
// a plateau of equal maxima the last point counts.
//
// The end condition: the paper confirms a maximum with points that come
// after it, which a run of a handful of stages may not have (with three
// evenly spaced points and S = 1 the middle one could never be confirmed).
// So the last local maximum is also confirmed when d, continued one mean
// step past the last point along its last segment, falls below the
// threshold. For a convex curve this continuation is safe: y beyond the
// last point lies on or above the extension of the last chord, so d lies
// on or below it. An end that climbs no faster than the diagonal does not
// fall, so it confirms nothing.
//
// Fewer than 3 points, a constant x or a constant y have no knee.
func Kneedle(x, y []float64, sensitivity float64) (index int, ok bool) {
	if len(x) != len(y) {
		return -1, false
	}
	order := finiteOrder(x, y)
	if len(order) < 3 {
		return -1, false
	}
	d, ok := difference(x, y, order)
	if !ok {
		return -1, false
	}
	if !(sensitivity > 0) {
		sensitivity = 1
	}
	// The normalised x run from 0 to 1, so their mean step is 1/(n−1).
	i, ok := confirmKnee(d, 1/float64(len(d.y)-1), sensitivity)
	if !ok {
		return -1, false
	}
	return order[i], true
}

// finiteOrder is the indices of the points with a finite x and y, sorted
// by x.
func finiteOrder(x, y []float64) []int {
	var order []int
	for i := range x {
		if isFinite(x[i]) && isFinite(y[i]) {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(x[a], x[b]) })
	return order
}

// difference is the Kneedle difference curve (xn, xn − yn) over the points
// in order; ok is false when x or y do not vary.
func difference(x, y []float64, order []int) (d curvePoints, ok bool) {
	x0, x1 := x[order[0]], x[order[len(order)-1]]
	y0, y1 := math.Inf(1), math.Inf(-1)
	for _, i := range order {
		y0, y1 = min(y0, y[i]), max(y1, y[i])
	}
	dx, dy := x1-x0, y1-y0
	if !(dx > 0) || !(dy > 0) || math.IsInf(dx, 0) || math.IsInf(dy, 0) {
		return curvePoints{}, false
	}
	d = curvePoints{x: make([]float64, len(order)), y: make([]float64, len(order))}
	for k, i := range order {
		d.x[k] = (x[i] - x0) / dx
		d.y[k] = d.x[k] - (y[i]-y0)/dy
	}
	return d, true
}

// curvePoints are points of a normalised curve, in order of x.
type curvePoints struct{ x, y []float64 }

// confirmKnee scans the difference curve d from its start and returns the
// first local maximum that d falls below (its value − S·step) before the
// next local maximum, or, for the last one, at the continuation of d one
// step past its end.
func confirmKnee(d curvePoints, step, s float64) (int, bool) {
	n := len(d.y)
	candidate, threshold := -1, 0.0
	for i := 1; i < n; i++ {
		if i < n-1 && d.y[i] >= d.y[i-1] && d.y[i] > d.y[i+1] {
			candidate, threshold = i, d.y[i]-s*step
			continue
		}
		if candidate >= 0 && d.y[i] < threshold {
			return candidate, true
		}
	}
	if candidate >= 0 && d.continued(step) < threshold {
		return candidate, true
	}
	return -1, false
}

// continued is d one step past its last point, along its last segment; the
// last value when the last two points share x.
func (d curvePoints) continued(step float64) float64 {
	n := len(d.y)
	dx := d.x[n-1] - d.x[n-2]
	if !(dx > 0) {
		return d.y[n-1]
	}
	return d.y[n-1] + (d.y[n-1]-d.y[n-2])/dx*step
}

// isFinite reports whether v is neither NaN nor infinite.
func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
