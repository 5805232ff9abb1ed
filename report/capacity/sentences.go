package capacity

import (
	"errors"
	"fmt"
	"math"
)

// shortfallShare is the share of the offered load below which completed
// throughput is said to fall short.
const shortfallShare = 0.95

// poorR2 is the R² under which the throughput model is called a poor fit.
const poorR2 = 0.9

// headline is the first sentence: where latency bends (or why it does
// not) and the largest stage meeting every threshold.
func headline(stages []Stage, a Analysis, f kneeFinding) string {
	return latencyClause(stages, a.Metric, f) + "; " + passingClause(stages, a.LargestPassing) + "."
}

// latencyClause says where p99 bends, or why no knee was found.
func latencyClause(stages []Stage, metric string, f kneeFinding) string {
	p99 := "p99"
	if metric != "" {
		p99 = metric + " p99"
	}
	c := f.curve
	switch {
	case f.at >= 0:
		return kneeClause(stages, p99, f)
	case f.knee.Method == MethodNoLatency:
		return fmt.Sprintf("no knee: %s was not measured in any stage", p99)
	case f.knee.Method == MethodBeyond:
		return fmt.Sprintf("no knee: %s is beyond reach at every load across %s devices", p99, c.loads())
	case f.knee.Method == MethodFewLoads:
		return fmt.Sprintf("no knee: %s measured at %s (%s devices), 3 needed", p99, plural(len(c), "load"), c.loads())
	case f.knee.Method == MethodFlat:
		lo, hi := c.span()
		return fmt.Sprintf("no knee: %s stays between %s and %s across %s devices", p99, fmtMS(lo), fmtMS(hi), c.loads())
	}
	first, last := c[0], c[len(c)-1]
	return fmt.Sprintf("no knee: %s goes from %s at %s to %s at %s devices without bending", p99,
		stageP99(stages[first.index]), count(first.devices), stageP99(stages[last.index]), count(last.devices))
}

// kneeClause says how high p99 stays up to the knee and what it and the
// failures are at the next load.
func kneeClause(stages []Stage, p99 string, f kneeFinding) string {
	upTo := math.Inf(-1)
	for _, p := range f.curve[:f.at+1] {
		upTo = max(upTo, p.p99)
	}
	knee, next := f.curve[f.at], f.curve[f.at+1]
	s := fmt.Sprintf("%s stays at or below %s up to %s devices", p99, fmtMS(upTo), count(knee.devices))
	if math.IsInf(upTo, 1) {
		s = fmt.Sprintf("%s bends at %s devices", p99, count(knee.devices))
	}
	ns := stages[next.index]
	return fmt.Sprintf("%s; at %s %s", s, count(next.devices), join(append([]string{"it is " + stageP99(ns)}, failures(ns)...)))
}

// stageP99 is a stage's p99, with the loss that put it beyond reach.
func stageP99(s Stage) string {
	if math.IsInf(s.P99MS, 1) && s.LossPct > 0 {
		return fmt.Sprintf("beyond reach (%s lost)", fmtPct(s.LossPct))
	}
	return fmtMS(s.P99MS)
}

// failures lists what failed in a stage, in words; the loss only when the
// p99 does not already say it.
func failures(s Stage) []string {
	var f []string
	if s.ConnectFailPct > 0 {
		f = append(f, fmtPct(s.ConnectFailPct)+" of connects fail")
	}
	if s.ErrorPct > 0 {
		f = append(f, "errors reach "+fmtPct(s.ErrorPct))
	}
	if s.LossPct > 0 && !math.IsInf(s.P99MS, 1) {
		f = append(f, fmtPct(s.LossPct)+" of messages are lost")
	}
	return f
}

// passingClause names the largest stage meeting every threshold.
func passingClause(stages []Stage, i int) string {
	if i < 0 {
		return "no stage meets every threshold"
	}
	return "largest stage meeting every threshold: " + count(stages[i].Devices)
}

// loads is the curve's range of loads: "1,000–10,000", or "1,000".
func (c curve) loads() string {
	lo, hi := c[0].devices, c[len(c)-1].devices
	if lo == hi {
		return count(lo)
	}
	return count(lo) + "–" + count(hi)
}

// uslSentence says what the throughput model found, or why there is none.
// largest is the largest load tried.
func uslSentence(u USL, err error, largest int) string {
	switch {
	case errors.Is(err, ErrTooFewLoads):
		return "no Universal Scalability Law fit: fewer than 3 distinct loads have a throughput."
	case errors.Is(err, ErrNoThroughput):
		return "no Universal Scalability Law fit: no stage completed any messages."
	case err != nil:
		return "no Universal Scalability Law fit: " + err.Error() + "."
	}
	s := fmt.Sprintf("throughput fits the Universal Scalability Law with R² %.3f (λ %s msg/s for one device, σ %s, κ %s): %s",
		u.R2, fmtQuantity(u.Lambda), fmtCoef(u.Sigma), fmtCoef(u.Kappa), peakClause(u, largest))
	if u.R2 < poorR2 {
		s += "; the fit is poor, so read it with care"
	}
	return s + "."
}

// peakClause says where throughput would peak.
func peakClause(u USL, largest int) string {
	switch {
	case !u.Peaked() && u.Sigma > 0:
		return fmt.Sprintf("no peak within reach, throughput approaching %s msg/s", fmtQuantity(u.PeakThroughput))
	case !u.Peaked():
		return "no peak within reach, throughput rising in proportion to devices"
	case u.PeakDevices > float64(largest):
		return fmt.Sprintf("it would peak at %s msg/s near %s devices, beyond the largest stage (%s)",
			fmtQuantity(u.PeakThroughput), fmtQuantity(math.Round(u.PeakDevices)), count(largest))
	}
	return fmt.Sprintf("it peaks at %s msg/s near %s devices", fmtQuantity(u.PeakThroughput), fmtQuantity(math.Round(u.PeakDevices)))
}

// shortfallSentence names the lightest load at which completed throughput
// fell under shortfallShare of the offered load; empty when none did.
func shortfallSentence(stages []Stage, loads []int) string {
	for _, i := range loads {
		s := stages[i]
		if s.OfferedPerSec > 0 && isFinite(s.OfferedPerSec) && s.ThroughputPerSec < shortfallShare*s.OfferedPerSec {
			return fmt.Sprintf("completed throughput falls short of the offered load from %s devices: %s of %s msg/s (%s).",
				count(s.Devices), fmtQuantity(s.ThroughputPerSec), fmtQuantity(s.OfferedPerSec), fmtPct(100*s.ThroughputPerSec/s.OfferedPerSec))
		}
	}
	return ""
}
