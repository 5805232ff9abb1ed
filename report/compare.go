package report

import (
	"fmt"
	"math"
)

// Tolerance is how much worse a new result may be than its base before
// Compare calls it a regression.
type Tolerance struct {
	// LatencyPct is the relative growth allowed of a latency percentile,
	// in percent (default 10); growth under LatencyFloorMS never counts
	// (default 1 ms): a run's noise at microseconds is not a regression.
	LatencyPct     float64
	LatencyFloorMS float64
	// LossPts is the growth allowed of the loss and error rates, in
	// percentage points (default 0.1).
	LossPts float64
}

func (t Tolerance) withDefaults() Tolerance {
	if t.LatencyPct == 0 {
		t.LatencyPct = 10
	}
	if t.LatencyFloorMS == 0 {
		t.LatencyFloorMS = 1
	}
	if t.LossPts == 0 {
		t.LossPts = 0.1
	}
	return t
}

// Difference is one figure of two results side by side. A Beyond figure
// (a percentile that loss put out of reach) is +Inf.
type Difference struct {
	Metric    string  `json:"metric"`
	Base      float64 `json:"base"`
	New       float64 `json:"new"`
	Unit      string  `json:"unit"`
	Regressed bool    `json:"regressed"`
}

// Compare sets the latency percentiles, loss, error rate and connect
// success of next against base, marking what regressed beyond tol.
func Compare(base, next *Result, tol Tolerance) []Difference {
	tol = tol.withDefaults()
	var out []Difference
	for i, name := range latencyNames {
		b, n := base.LatencyMS.byIndex(i), next.LatencyMS.byIndex(i)
		if b.Count+b.Missing+n.Count+n.Missing == 0 {
			continue
		}
		for j, p := range [...]struct {
			b, n Judged
		}{{b.P50, n.P50}, {b.P90, n.P90}, {b.P99, n.P99}, {b.P999, n.P999}} {
			bv, nv := judgedValue(p.b), judgedValue(p.n)
			out = append(out, Difference{Metric: "latency." + name + "." + statNames[j], Base: bv, New: nv, Unit: "ms",
				Regressed: nv > bv*(1+tol.LatencyPct/100) && nv-bv > tol.LatencyFloorMS})
		}
	}
	pts := func(metric string, b, n float64) Difference {
		return Difference{Metric: metric, Base: b, New: n, Unit: "%", Regressed: n-b > tol.LossPts}
	}
	out = append(out, pts("messages.loss", base.Messages.LossPct, next.Messages.LossPct),
		pts("errors.rate", errorRate(base), errorRate(next)))
	success := Difference{Metric: "connect.success", Base: base.Connect.SuccessPct, New: next.Connect.SuccessPct, Unit: "%"}
	success.Regressed = base.Connect.SuccessPct-next.Connect.SuccessPct > tol.LossPts
	return append(out, success)
}

func judgedValue(j Judged) float64 {
	if j.Beyond {
		return math.Inf(1)
	}
	return j.V
}

// errorRate is failures per message sent and connect attempted, in
// percent.
func errorRate(r *Result) float64 {
	n := r.Messages.Sent + r.Devices.Connects + r.Devices.ConnectFailures
	if n == 0 {
		return 0
	}
	return round3(100 * float64(r.Errors.Total()) / float64(n))
}

// FormatValue writes a compared figure: "> all" for +Inf.
func (d Difference) FormatValue(v float64) string {
	if math.IsInf(v, 1) {
		return "> all"
	}
	return fmt.Sprintf("%g %s", v, d.Unit)
}
