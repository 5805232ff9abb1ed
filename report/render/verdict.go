package render

import (
	"strings"

	"github.com/m2msim/m2msim/report"
)

// noSamples is the reason report.Evaluate gives a threshold with nothing
// to stand on.
const noSamples = "no samples"

// verdict is one threshold's outcome in words.
type verdict struct {
	Expr     string
	Measured string
	Limit    string
	Passed   bool
	Reason   string
}

// verdicts puts r's thresholds in words, in order.
func verdicts(r *report.Result) []verdict {
	out := make([]verdict, len(r.Thresholds))
	for i, t := range r.Thresholds {
		out[i] = verdictOf(t)
	}
	return out
}

func verdictOf(t report.ThresholdResult) verdict {
	v := verdict{Expr: t.Expr, Passed: t.Passed, Reason: t.Reason}
	parsed, err := report.ParseThreshold(t.Expr)
	unit := ""
	if err == nil {
		unit = parsed.Unit()
		v.Limit = limitOf(parsed)
	}
	switch {
	case !t.Passed && t.Reason == noSamples:
		v.Measured = noSamples
	case t.Actual.Beyond:
		v.Measured = "> all"
	default:
		v.Measured = num(t.Actual.V) + unit
	}
	return v
}

// limitOf is the right-hand side of a threshold as its author wrote it,
// with the operator: "< 250ms".
func limitOf(t report.Threshold) string {
	i := strings.Index(t.Expr, t.Op)
	if i < 0 {
		return t.Op + " " + num(t.Value)
	}
	return t.Op + " " + strings.TrimSpace(t.Expr[i+len(t.Op):])
}
