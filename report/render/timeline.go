package render

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/m2msim/m2msim/report"
)

// maxPlotPoints bounds the points of a line over time: a longer timeline
// is drawn in buckets of k intervals, each reduced to one point.
const maxPlotPoints = 1000

// getter reads one figure of a point; ok is false when the point has
// none.
type getter func(p *report.Point) (v float64, ok bool)

// timeline is the run's points as charts over time draw them.
type timeline struct {
	pts []report.Point
	// k is how many intervals one drawn point stands for.
	k      int
	stages []report.StageResult
	// restarts are the run times (s) at which the broker restarted.
	restarts []float64
}

func newTimeline(pts []report.Point, stages []report.StageResult) timeline {
	if !slices.IsSortedFunc(pts, func(a, b report.Point) int { return cmp.Compare(a.T, b.T) }) {
		pts = slices.SortedStableFunc(slices.Values(pts), func(a, b report.Point) int { return cmp.Compare(a.T, b.T) })
	}
	return timeline{pts: pts, k: max(1, (len(pts)+maxPlotPoints-1)/maxPlotPoints), stages: stages}
}

// withRestarts marks the broker restarts r counted, at the start of the
// interval each fell in.
func (tl timeline) withRestarts(r *report.Result) timeline {
	if r.Metrics == nil || r.Metrics.IntervalS <= 0 {
		return tl
	}
	c := r.Metrics.Counters[report.CounterBrokerRestart]
	if c == nil {
		return tl
	}
	for i, n := range c.Intervals {
		if n > 0 {
			tl.restarts = append(tl.restarts, float64(i)*r.Metrics.IntervalS)
		}
	}
	return tl
}

// track is one figure over time, a point per bucket at the bucket's end:
// its maximum when peak, else its mean; NaN where no point of the bucket
// has the figure.
func (tl timeline) track(get getter, peak bool) plotter.XYs {
	out := make(plotter.XYs, 0, (len(tl.pts)+tl.k-1)/tl.k)
	for i := 0; i < len(tl.pts); i += tl.k {
		b := tl.pts[i:min(i+tl.k, len(tl.pts))]
		out = append(out, plotter.XY{X: b[len(b)-1].T, Y: reduce(b, get, peak)})
	}
	return out
}

func reduce(b []report.Point, get getter, peak bool) float64 {
	sum, n, hi := 0.0, 0, math.Inf(-1)
	for i := range b {
		v, ok := get(&b[i])
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		sum, n, hi = sum+v, n+1, max(hi, v)
	}
	switch {
	case n == 0:
		return math.NaN()
	case peak:
		return hi
	}
	return sum / float64(n)
}

// caption says how a chart reduced the timeline, when it did.
func (tl timeline) caption(what string) string {
	if tl.k == 1 {
		return ""
	}
	return fmt.Sprintf("%d intervals drawn as %d buckets of %d: %s.",
		len(tl.pts), (len(tl.pts)+tl.k-1)/tl.k, tl.k, what)
}

const (
	peakNote = "each point is the maximum within its bucket"
	meanNote = "each point is the mean over its bucket"
)

// finish draws ss on p, sets its axes and adds the stage boundaries,
// named when labels.
func (tl timeline) finish(p *plot.Plot, ss []series, log, labels bool) {
	for _, s := range ss {
		addSeries(p, s, log)
	}
	lo, hi, ok := yRange(ss, log)
	if log {
		setLogY(p, lo, hi, ok)
	} else {
		setLinearY(p, lo, hi, ok)
	}
	x0, x1 := tl.span()
	setX(p, x0, x1)
	tl.addStages(p, labels)
	tl.addRestarts(p, labels)
}

// addRestarts marks each broker restart, named when labels.
func (tl timeline) addRestarts(p *plot.Plot, labels bool) {
	if len(tl.restarts) == 0 {
		return
	}
	m := vmarks{line: dashed(colRed), text: textStyle(8, colRed), xs: tl.restarts}
	for range tl.restarts {
		m.labels = append(m.labels, optional(labels, "broker restart"))
	}
	m.line.Width = 0.8
	p.Add(m)
}

// span is the range of time the charts show: from the run's start, or
// the first point if earlier, to the last point.
func (tl timeline) span() (lo, hi float64) {
	lo, hi = 0, math.Inf(-1)
	for i := range tl.pts {
		if t := tl.pts[i].T; !math.IsNaN(t) && !math.IsInf(t, 0) {
			lo, hi = min(lo, t), max(hi, t)
		}
	}
	return lo, hi
}

// addStages marks where each stage starts, named when labels.
func (tl timeline) addStages(p *plot.Plot, labels bool) {
	if len(tl.stages) == 0 {
		return
	}
	m := vmarks{line: dashed(colFaint), text: textStyle(8, colGrey)}
	for _, s := range tl.stages {
		m.xs = append(m.xs, s.StartS)
		m.labels = append(m.labels, optional(labels, s.Name))
	}
	m.line.Width = 0.8
	p.Add(m)
}

// optional is s when on, else empty.
func optional(on bool, s string) string {
	if on {
		return s
	}
	return ""
}

// latencyMetrics lists the latency metrics with samples in any point:
// the Result's kinds in their order, then any other by name.
func latencyMetrics(pts []report.Point) []string {
	seen := map[string]bool{}
	for i := range pts {
		for k := range pts[i].Latency {
			seen[k] = true
		}
	}
	var out []string
	for _, k := range latencyKinds {
		if seen[k.name] {
			out = append(out, k.name)
			delete(seen, k.name)
		}
	}
	return append(out, slices.Sorted(maps.Keys(seen))...)
}

// rateNames lists the rates present in any point, by name.
func rateNames(pts []report.Point) map[string]bool {
	seen := map[string]bool{}
	for i := range pts {
		for k := range pts[i].Rates {
			seen[k] = true
		}
	}
	return seen
}
