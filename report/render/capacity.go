package render

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// uslReach is how far beyond the largest load tried the USL's predicted
// peak may lie and still be drawn, as a multiple of that load.
const uslReach = 2

// capacityRow is one stage of the capacity table in words.
type capacityRow struct {
	Stage                        string
	Devices                      int
	Offered, Throughput          string
	P50, P99                     string
	ConnectFail, Errors, Loss    string
	Passed, Knee, LargestPassing bool
}

func capacityRows(c *Capacity) []capacityRow {
	out := make([]capacityRow, len(c.Rows))
	for i, r := range c.Rows {
		out[i] = capacityRow{Stage: r.Stage, Devices: r.Devices,
			Offered: sig3(r.OfferedPerSec), Throughput: sig3(r.ThroughputPerSec),
			P50: capMS(r.P50MS), P99: capMS(r.P99MS),
			ConnectFail: pct(r.ConnectFailPct), Errors: pct(r.ErrorPct), Loss: pct(r.LossPct),
			Passed: r.Passed, Knee: i == c.KneeIndex, LargestPassing: i == c.LargestPassing}
	}
	return out
}

// kneeLabel names the knee on the capacity charts.
func kneeLabel(c *Capacity) (x float64, label string, ok bool) {
	if c.KneeIndex < 0 || c.KneeIndex >= len(c.Rows) {
		return 0, "", false
	}
	d := c.Rows[c.KneeIndex].Devices
	return float64(d), fmt.Sprintf("knee: %d devices", d), true
}

// largestLoad is the most devices any stage had.
func largestLoad(c *Capacity) float64 {
	hi := 0.0
	for _, r := range c.Rows {
		hi = max(hi, float64(r.Devices))
	}
	return hi
}

func addKnee(p *plot.Plot, c *Capacity) {
	if x, label, ok := kneeLabel(c); ok {
		p.Add(vmarks{xs: []float64{x}, labels: []string{label}, line: dashed(colRed), text: textStyle(9, colRed), flip: true})
	}
}

// capacityLatencyChart draws p50 and p99 against devices, the knee
// marked and each stage's pass or fail.
func capacityLatencyChart(c *Capacity) figure {
	p50 := series{name: "p50", style: solid(colBlue)}
	p99 := series{name: "p99", style: solid(colOrange)}
	var passed, failed, beyond plotter.XYs
	for _, r := range c.Rows {
		x := float64(r.Devices)
		p50.xys = append(p50.xys, plotter.XY{X: x, Y: r.P50MS})
		p99.xys = append(p99.xys, plotter.XY{X: x, Y: r.P99MS})
		switch xy := (plotter.XY{X: x, Y: r.P99MS}); {
		case math.IsInf(r.P99MS, 1):
			beyond = append(beyond, xy)
		case r.Passed:
			passed = append(passed, xy)
		default:
			failed = append(failed, xy)
		}
	}
	ss := []series{p50, p99}
	log := wideSpread(p50, p99)
	title := metricLabel(c.Metric) + " latency against devices"
	p := newPlot(title, "devices", "ms")
	for _, s := range ss {
		addSeries(p, s, log)
	}
	lo, hi, ok := yRange(ss, log)
	if log {
		setLogY(p, lo, hi, ok)
	} else {
		setLinearY(p, lo, hi, ok)
	}
	setX(p, 0, largestLoad(c)*1.05)
	addDots(p, "stage passed", passed, colGreen, draw.CircleGlyph{})
	addDots(p, "stage failed", failed, colRed, draw.CircleGlyph{})
	for i := range beyond {
		beyond[i].Y = p.Y.Max
	}
	addDots(p, "p99 beyond reach", beyond, colRed, draw.TriangleGlyph{})
	addKnee(p, c)
	caption := "Each stage's percentiles. A p99 beyond reach, whose rank falls among the flows that never finished, is drawn as a triangle at the top."
	if log {
		caption += " Log scale."
	}
	return drawOne(title, p, caption)
}

// addDots draws glyphs at the drawable points of xys, with a legend
// entry.
func addDots(p *plot.Plot, name string, xys plotter.XYs, c color.Color, shape draw.GlyphDrawer) {
	var ok plotter.XYs
	for _, xy := range xys {
		if finite(xy, isLog(p)) {
			ok = append(ok, xy)
		}
	}
	if len(ok) == 0 {
		return
	}
	s := &plotter.Scatter{XYs: ok, GlyphStyle: draw.GlyphStyle{Color: c, Radius: vg.Points(3.5), Shape: shape}}
	p.Add(s)
	p.Legend.Add(name, s)
}

// isLog reports whether p's y axis is logarithmic.
func isLog(p *plot.Plot) bool {
	_, ok := p.Y.Scale.(plot.LogScale)
	return ok
}

// capacityThroughputChart draws throughput against devices with the
// offered load, the USL curve through the stages and its predicted peak
// when that lies within uslReach times the largest load.
func capacityThroughputChart(c *Capacity) figure {
	offered := series{name: "offered", style: dashed(colGrey)}
	through := series{name: "throughput", style: draw.LineStyle{Color: colBlue, Width: vg.Points(0.6)}}
	for _, r := range c.Rows {
		x := float64(r.Devices)
		offered.xys = append(offered.xys, plotter.XY{X: x, Y: r.OfferedPerSec})
		through.xys = append(through.xys, plotter.XY{X: x, Y: r.ThroughputPerSec})
	}
	xMax := largestLoad(c)
	peak, showPeak := uslPeak(c.USL, xMax)
	if showPeak {
		xMax = max(xMax, peak.X)
	}
	xMax *= 1.05
	ss := []series{offered, through}
	if c.USL != nil && c.USL.Curve != nil {
		ss = append(ss, series{name: "USL fit", xys: sample(c.USL.Curve, xMax), style: solid(colPurple)})
	}
	const title = "throughput against devices"
	p := newPlot(title, "devices", "messages per second")
	for _, s := range ss {
		addSeries(p, s, false)
	}
	addDots(p, "stage", through.xys, colBlue, draw.CircleGlyph{})
	if showPeak {
		addDots(p, "USL peak", plotter.XYs{peak}, colPurple, draw.PyramidGlyph{})
		ss = append(ss, series{xys: plotter.XYs{peak}})
	}
	lo, hi, ok := yRange(ss, false)
	setLinearY(p, lo, hi, ok)
	setX(p, 0, xMax)
	if showPeak {
		addPeakLabel(p, peak, xMax)
	}
	addKnee(p, c)
	return drawOne(title, p, "Measured throughput of each stage against the load offered, with the Universal Scalability Law fitted through them.")
}

// uslPeak is the USL's predicted peak, and whether to draw it: it must
// be finite and lie within uslReach times the largest load.
func uslPeak(u *USLFit, largest float64) (plotter.XY, bool) {
	if u == nil {
		return plotter.XY{}, false
	}
	xy := plotter.XY{X: u.PeakDevices, Y: u.PeakThroughput}
	return xy, finite(xy, false) && xy.X > 0 && xy.X <= uslReach*largest
}

func addPeakLabel(p *plot.Plot, peak plotter.XY, xMax float64) {
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{peak},
		Labels: []string{fmt.Sprintf("USL peak: %s devices, %s/s", sig3(peak.X), sig3(peak.Y))}})
	if err != nil {
		return
	}
	sty := textStyle(9, colPurple)
	sty.YAlign = text.YBottom
	l.Offset = vg.Point{X: vg.Points(6), Y: vg.Points(4)}
	if peak.X > 0.6*xMax {
		sty.XAlign = text.XRight
		l.Offset.X = -l.Offset.X
	}
	l.TextStyle = []text.Style{sty}
	p.Add(l)
}

// curveSamples is how many points draw the USL curve.
const curveSamples = 200

// sample evaluates f from 0 to hi; values f cannot give (NaN, infinite,
// negative) are gaps.
func sample(f func(float64) float64, hi float64) plotter.XYs {
	if !(hi > 0) || math.IsInf(hi, 0) {
		return nil
	}
	out := make(plotter.XYs, curveSamples+1)
	for i := range out {
		x := hi * float64(i) / curveSamples
		y := f(x)
		if y < 0 {
			y = math.NaN()
		}
		out[i] = plotter.XY{X: x, Y: y}
	}
	return out
}

// uslWords puts a USL fit in words.
func uslWords(u *USLFit, largest float64) []string {
	if u == nil {
		return nil
	}
	out := []string{fmt.Sprintf("Universal Scalability Law fit (R² %s): one device alone would carry λ = %s messages/s; "+
		"contention σ = %s (the share of the work that waits its turn: %s); coherency κ = %s "+
		"(the cost of devices keeping each other consistent, which grows with the square of their number).",
		num(u.R2), sig3(u.Lambda), strconv.FormatFloat(u.Sigma, 'g', 3, 64), pct(100*u.Sigma),
		strconv.FormatFloat(u.Kappa, 'g', 3, 64))}
	switch _, drawn := uslPeak(u, largest); {
	case u.Kappa <= 0 && u.Sigma > 0:
		out = append(out, fmt.Sprintf("With no coherency cost, throughput levels off near λ/σ = %s messages/s rather than falling.", sig3(u.Lambda/u.Sigma)))
	case drawn:
		out = append(out, fmt.Sprintf("Predicted peak: %s messages/s at %s devices.", sig3(u.PeakThroughput), sig3(u.PeakDevices)))
	case u.PeakDevices > 0 && !math.IsInf(u.PeakDevices, 0):
		out = append(out, fmt.Sprintf("The predicted peak, %s messages/s at %s devices, lies beyond %d× the largest load tried (%s devices): too far out to trust, so it is not drawn.",
			sig3(u.PeakThroughput), sig3(u.PeakDevices), uslReach, sig3(largest)))
	}
	if u.R2 < 0.9 {
		out = append(out, "The fit is loose (R² below 0.9): read the coefficients as rough.")
	}
	return out
}

// limiterWords says who ran out first. A reason that opens by saying so
// itself, as report/capacity's do ("the server ran out first: its p99
// climbs ..."), loses that opening, which these words already say.
func limiterWords(c *Capacity) string {
	reason := limiterWhy(c.LimiterReason)
	if reason != "" {
		reason = ": " + reason
	}
	switch c.Limiter {
	case "server":
		return "The server ran out first" + reason + "."
	case "generator":
		return "The generator (m2msim itself) ran out first" + reason + ". The server may carry more than these figures show."
	case "none":
		return "Neither the server nor the generator ran out within the loads tried" + reason + "."
	case "":
		return ""
	}
	return fmt.Sprintf("Ran out first: %s%s.", c.Limiter, reason)
}

// limiterWhy is reason without its final full stop, and without an
// opening clause that names who ran out.
func limiterWhy(reason string) string {
	reason = strings.TrimSuffix(strings.TrimSpace(reason), ".")
	if who, why, ok := strings.Cut(reason, ": "); ok && strings.Contains(who, "ran out") {
		return why
	}
	return reason
}
