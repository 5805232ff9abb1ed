package render

import (
	"image/color"
	"slices"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/m2msim/m2msim/report"
)

// logRatio is the spread of a latency chart, its largest maximum over
// its median p50, beyond which the y axis is logarithmic.
const logRatio = 100

// overTime draws the charts over time, in the page's order.
func overTime(tl timeline) []figure {
	if len(tl.pts) == 0 {
		return nil
	}
	var out []figure
	for _, m := range latencyMetrics(tl.pts) {
		out = append(out, latencyChart(tl, m))
	}
	out = append(out, rateCharts(tl)...)
	out = append(out, devicesChart(tl))
	if f, ok := errorsChart(tl); ok {
		out = append(out, f)
	}
	if f, ok := radioChart(tl); ok {
		out = append(out, f)
	}
	return append(out, selfChart(tl))
}

// quantile names a latency line and reads it from a Quantiles.
var quantileLines = []struct {
	name string
	col  color.Color
	get  func(q report.Quantiles) float64
}{
	{"p50", colBlue, func(q report.Quantiles) float64 { return q.P50 }},
	{"p90", colGreen, func(q report.Quantiles) float64 { return q.P90 }},
	{"p99", colOrange, func(q report.Quantiles) float64 { return q.P99 }},
	{"max", colRed, func(q report.Quantiles) float64 { return q.Max }},
}

func latencyChart(tl timeline, metric string) figure {
	ss := make([]series, len(quantileLines))
	for i, q := range quantileLines {
		get := func(p *report.Point) (float64, bool) {
			v, ok := p.Latency[metric]
			return q.get(v), ok
		}
		ss[i] = series{name: q.name, xys: tl.track(get, true), style: solid(q.col)}
	}
	log := wideSpread(ss[0], ss[3])
	title := metricLabel(metric) + " latency"
	p := newPlot(title, "seconds", "ms")
	tl.finish(p, ss, log, true)
	caption := "Percentiles of the flows that finished in each interval."
	if log {
		caption += " Log scale: the largest maximum is over 100× the median p50."
	}
	return drawHalf(title, p, join(caption, tl.caption(peakNote)))
}

// wideSpread reports whether the largest of hi is over logRatio times
// the median of lo, both positive.
func wideSpread(lo, hi series) bool {
	var ys []float64
	for _, xy := range lo.xys {
		if finite(xy, true) {
			ys = append(ys, xy.Y)
		}
	}
	_, top, ok := yRange([]series{hi}, true)
	if len(ys) == 0 || !ok {
		return false
	}
	slices.Sort(ys)
	return top > logRatio*ys[len(ys)/2]
}

// metricLabel names a latency metric for people.
func metricLabel(metric string) string {
	for _, k := range latencyKinds {
		if k.name == metric {
			return k.label
		}
	}
	return metric
}

// messageRates are the rates the messages chart draws; the others go on
// a chart of their own.
var messageRates = []string{"sent", "acked", "received"}

func rateCharts(tl timeline) []figure {
	names := rateNames(tl.pts)
	var msgs, other []string
	for _, n := range messageRates {
		if names[n] {
			msgs = append(msgs, n)
			delete(names, n)
		}
	}
	for _, n := range []string{"connects", "errors"} {
		if names[n] {
			other = append(other, n)
			delete(names, n)
		}
	}
	rest := make([]string, 0, len(names))
	for n := range names {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	other = append(other, rest...)
	var out []figure
	if len(msgs) > 0 {
		out = append(out, rateChart(tl, "messages per second", msgs))
	}
	if len(other) > 0 {
		out = append(out, rateChart(tl, "connects, errors and exchanges per second", other))
	}
	return out
}

func rateChart(tl timeline, title string, names []string) figure {
	ss := make([]series, len(names))
	for i, n := range names {
		get := func(p *report.Point) (float64, bool) {
			v, ok := p.Rates[n]
			return v, ok
		}
		ss[i] = series{name: n, xys: tl.track(get, false), style: solid(palette[i%len(palette)])}
	}
	p := newPlot(title, "seconds", "per second")
	tl.finish(p, ss, false, true)
	return drawOne(title, p, tl.caption(meanNote))
}

func devicesChart(tl timeline) figure {
	states := []struct {
		name string
		col  color.Color
		get  func(d report.DeviceStates) int64
	}{
		{"connected", colGreen, func(d report.DeviceStates) int64 { return d.Connected }},
		{"connecting", colOrange, func(d report.DeviceStates) int64 { return d.Connecting }},
		{"sleeping", colBlue, func(d report.DeviceStates) int64 { return d.Sleeping }},
		{"offline", colRed, func(d report.DeviceStates) int64 { return d.Offline }},
	}
	ss := make([]series, 0, len(states)+1)
	ss = append(ss, series{name: "active (plan)", style: dashed(colGrey),
		xys: tl.track(func(p *report.Point) (float64, bool) { return float64(p.Active), true }, false)})
	for _, s := range states {
		get := func(p *report.Point) (float64, bool) { return float64(s.get(p.Devices)), true }
		ss = append(ss, series{name: s.name, xys: tl.track(get, false), style: solid(s.col)})
	}
	const title = "devices by state"
	p := newPlot(title, "seconds", "devices")
	tl.finish(p, ss, false, true)
	return drawOne(title, p, tl.caption(meanNote))
}

// errorsChart draws failures by kind over time, when there were any.
func errorsChart(tl timeline) (figure, bool) {
	totals := map[string]int64{}
	for i := range tl.pts {
		for k, n := range tl.pts[i].Errors {
			totals[k] += n
		}
	}
	kinds := errorKinds(totals)
	if len(kinds) == 0 {
		return figure{}, false
	}
	ss := make([]series, len(kinds))
	for i, k := range kinds {
		get := func(p *report.Point) (float64, bool) { return float64(p.Errors[k.Kind]), true }
		ss[i] = series{name: k.Kind, xys: tl.track(get, false), style: solid(palette[(i+3)%len(palette)])}
	}
	const title = "failures by kind"
	p := newPlot(title, "seconds", "per interval")
	tl.finish(p, ss, false, true)
	return drawOne(title, p, join("Failures in each interval, most frequent kind first.", tl.caption(meanNote))), true
}

// radioChart draws what the radios did, when any point has radio
// figures.
func radioChart(tl timeline) (figure, bool) {
	if !slices.ContainsFunc(tl.pts, func(p report.Point) bool { return p.Radio != nil }) {
		return figure{}, false
	}
	radio := func(f func(r *report.RadioPoint) float64) getter {
		return func(p *report.Point) (float64, bool) {
			if p.Radio == nil {
				return 0, false
			}
			return f(p.Radio), true
		}
	}
	panel := func(title, unit string, get getter, peak bool, c color.Color) *plot.Plot {
		p := newPlot(title, "seconds", unit)
		tl.finish(p, []series{{xys: tl.track(get, peak), style: solid(c)}}, false, false)
		return p
	}
	rows := [][]*plot.Plot{{
		panel("time on air", "s per interval", radio(func(r *report.RadioPoint) float64 { return r.AirtimeS }), false, colBlue),
		panel("sends deferred", "per interval", radio(func(r *report.RadioPoint) float64 { return float64(r.Deferred) }), false, colOrange),
	}, {
		panel("collisions", "per interval", radio(func(r *report.RadioPoint) float64 { return float64(r.Collisions) }), false, colRed),
		panel("longest downlink wait", "ms", radio(func(r *report.RadioPoint) float64 { return r.DownlinkWaitMS }), true, colPurple),
	}}
	caption := join("Summed over the groups with a radio.", tl.caption("each point is the mean over its bucket, the downlink wait its maximum"))
	return drawTiles("radio", rows, plotW, 2*plotH, caption), true
}

// selfChart draws the generator's own load, to tell its limits apart
// from the server's.
func selfChart(tl timeline) figure {
	self := func(f func(s report.Self) float64) getter {
		return func(p *report.Point) (float64, bool) { return f(p.Self), true }
	}
	panel := func(title, unit string, ss ...series) *plot.Plot {
		p := newPlot(title, "seconds", unit)
		tl.finish(p, ss, false, false)
		return p
	}
	lag := series{xys: tl.track(self(func(s report.Self) float64 { return s.ScheduleLagMS }), true), style: solid(colOrange)}
	cpu := series{xys: tl.track(self(func(s report.Self) float64 { return s.CPUPct }), true), style: solid(colBlue)}
	cpuPanel := panel("CPU", "% of one core", cpu)
	if slices.ContainsFunc(tl.pts, func(p report.Point) bool { return p.Self.Procs > 0 }) {
		procs := series{xys: tl.track(self(func(s report.Self) float64 { return 100 * float64(s.Procs) }), true), style: dashed(colGrey)}
		cpuPanel = panel("CPU (dashed: all of the cores it ran on)", "% of one core", cpu, procs)
	}
	files := series{xys: tl.track(self(func(s report.Self) float64 { return float64(s.OpenFiles) }), true), style: solid(colGreen)}
	limit := series{xys: tl.track(self(func(s report.Self) float64 { return float64(s.OpenFilesMax) }), true), style: dashed(colRed)}
	rows := [][]*plot.Plot{{
		panel("schedule lag, largest", "ms", lag),
		cpuPanel,
		panel("open files (dashed: limit)", "files", files, limit),
	}}
	return drawTiles("the generator's own load", rows, plotW, plotH-vg.Points(10),
		join("m2msim's own load: a late schedule, a busy CPU or open files near the limit mean the generator, not the server, set the pace.",
			tl.caption(peakNote)))
}

// join joins non-empty sentences with a space.
func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}
