package render

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/m2msim/m2msim/report"
)

// beyondReach is how a capacity figure of +Inf reads: its rank falls
// among the flows that never finished.
const beyondReach = "beyond reach"

// num writes v with up to three decimals and no trailing zeros; "n/a"
// for NaN.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// sig3 writes v to about three significant figures, for figures whose
// size varies (latencies in ms, rates): 1234, 123, 12.3, 1.23, 0.123.
func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return num(v)
	case a >= 100 || a == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// capMS writes a capacity latency in ms, +Inf as beyondReach.
func capMS(v float64) string {
	if math.IsInf(v, 1) {
		return beyondReach
	}
	return sig3(v)
}

// pct writes a percentage.
func pct(v float64) string { return num(v) + "%" }

// judged writes a judged percentile in ms, or "> all" beyond every
// finished flow, as the terminal summary does.
func judged(j report.Judged) string {
	if j.Beyond {
		return "> all"
	}
	return fixed3(j.V)
}

// fixed3 writes v with three decimals: microseconds for values in ms.
func fixed3(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return num(v)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// seconds writes seconds as a short duration: 30s, 1m30s, 2.5s.
func seconds(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return num(s)
	}
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// elapsed says how long the run took against its plan.
func elapsed(r *report.Result) string {
	if r.PlannedDurationS > 0 {
		return fmt.Sprintf("%s of %s planned", seconds(r.ElapsedS), seconds(r.PlannedDurationS))
	}
	return seconds(r.ElapsedS)
}

// started writes the start time in UTC, or "unknown" for the zero time.
func started(r *report.Result) string {
	if r.Started.IsZero() {
		return "unknown"
	}
	return r.Started.UTC().Format(time.RFC3339)
}

// kindCount is one error kind and its count.
type kindCount struct {
	Kind  string
	Count int64
}

// errorKinds lists the error kinds with failures, most frequent first.
func errorKinds(e map[string]int64) []kindCount {
	var out []kindCount
	for k, n := range e {
		if n > 0 {
			out = append(out, kindCount{k, n})
		}
	}
	slices.SortFunc(out, func(a, b kindCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Kind, b.Kind))
	})
	return out
}
