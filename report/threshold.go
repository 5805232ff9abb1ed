package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/m2msim/m2msim/internal/spell"
)

// Threshold is a pass/fail condition on a Result, such as
// "latency.e2e.p99 < 250ms". Value is in the metric's unit: milliseconds for
// latencies, 0-100 for percentages, a plain number for counts.
type Threshold struct {
	Expr   string
	Metric string
	Op     string
	Value  float64
	// Scope narrows Metric to one group (ScopeGroup) or protocol
	// (ScopeProtocol), the one named Of; "" is the whole run.
	Scope, Of string
}

// ThresholdResult is the outcome of one Threshold. Actual is in the
// metric's unit (see Threshold), Beyond for a percentile beyond every
// finished flow; Reason says why a threshold failed.
type ThresholdResult struct {
	Expr   string `json:"expr"`
	Actual Judged `json:"actual"`
	Passed bool   `json:"passed"`
	Reason string `json:"reason,omitempty"`
}

// ThresholdError is a threshold expression that does not parse.
type ThresholdError struct {
	Expr   string
	Reason string
}

// Error names the expression and the problem.
func (e *ThresholdError) Error() string {
	return fmt.Sprintf("threshold %q: %s", e.Expr, e.Reason)
}

// unit is what a metric measures, which decides the values it accepts.
type unit uint8

const (
	unitDuration unit = iota + 1
	unitPercent
	unitCount
)

func (u unit) String() string {
	switch u {
	case unitDuration:
		return "a duration"
	case unitPercent:
		return "a percent"
	}
	return "a count"
}

// metric reads one figure from a Result; ok is false when the figure has no
// samples to stand on, so a threshold never passes vacuously. lat is 1 +
// the latency kind of a latency metric, for the reason a percentile is
// beyond reach.
type metric struct {
	unit unit
	get  func(r *view) (v Judged, ok bool)
	lat  int
}

var latencyNames = [...]string{"connect", "ack", "e2e", "command", "request", "schedule_lag", "backend_lag"}
var statNames = [...]string{"p50", "p90", "p99", "p999", "max", "mean"}

// knownMetrics lists the metric names compactly, for error messages.
const knownMetrics = "latency.{connect,ack,e2e,command,request,schedule_lag,backend_lag}.{p50,p90,p99,p999,max,mean}, " +
	"connect.{success,unfinished}, messages.{sent,timed,received,lost,loss,lost_unacked,lost_after_ack,lost_unconfirmed," +
	"unacked,duplicates}, commands.unanswered, requests.unanswered, devices.connected_max, errors.total"

var metrics = buildMetrics()

func buildMetrics() map[string]metric {
	m := map[string]metric{
		"connect.success":           {unit: unitPercent, get: connectSuccess},
		"connect.unfinished":        countMetric(func(r *view) int64 { return r.Devices.ConnectUnfinished }),
		"messages.loss":             {unit: unitPercent, get: messageLoss},
		"messages.sent":             countMetric(func(r *view) int64 { return r.Messages.Sent }),
		"messages.timed":            countMetric(func(r *view) int64 { return r.Messages.Timed }),
		"messages.received":         countMetric(func(r *view) int64 { return r.Messages.Received }),
		"messages.lost":             countMetric(func(r *view) int64 { return r.Messages.Lost }),
		"messages.lost_unacked":     countMetric(func(r *view) int64 { return r.Messages.LostUnacked }),
		"messages.lost_after_ack":   countMetric(func(r *view) int64 { return r.Messages.LostAfterAck }),
		"messages.lost_unconfirmed": countMetric(func(r *view) int64 { return r.Messages.LostUnconfirmed }),
		"messages.unacked":          countMetric(func(r *view) int64 { return r.Messages.Unacked }),
		"messages.duplicates":       countMetric(func(r *view) int64 { return r.Messages.Duplicates }),
		"commands.unanswered":       countMetric(func(r *view) int64 { return r.Commands.Unanswered }),
		"requests.unanswered":       countMetric(func(r *view) int64 { return r.Requests.Unanswered }),
		"devices.connected_max":     countMetric(func(r *view) int64 { return r.Devices.ConnectedMax }),
		"errors.total":              countMetric(func(r *view) int64 { return r.Errors.Total() }),
	}
	for li, ln := range latencyNames {
		for si, sn := range statNames {
			m["latency."+ln+"."+sn] = metric{unit: unitDuration, get: latencyMetric(li, si), lat: 1 + li}
		}
	}
	return m
}

// lookupMetric finds a metric by name: a built-in one, or a statistic of a
// latency a protocol names (latency.NAME.STAT), read from the result's
// metrics section. A name a letter or two from a built-in latency's is
// taken for a typo of it, not a new latency.
func lookupMetric(name string) (metric, bool) {
	if m, ok := metrics[name]; ok {
		return m, true
	}
	if c, ok := strings.CutPrefix(name, "counts."); ok {
		return namedCount(c), validMetricName(c)
	}
	rest, ok := strings.CutPrefix(name, "latency.")
	lat, stat, ok2 := strings.Cut(rest, ".")
	si := slices.Index(statNames[:], stat)
	if !ok || !ok2 || si < 0 || !validMetricName(lat) || isKindName(lat) {
		return metric{}, false
	}
	for _, b := range latencyNames {
		if spell.Distance(lat, b) <= 2 {
			return metric{}, false
		}
	}
	return metric{unit: unitDuration, get: namedLatency(lat, si)}, true
}

// namedLatency reads a statistic of the latency a protocol named lat.
// Its flows that never finished are not known, so its percentiles are
// over the finished ones.
func namedLatency(lat string, stat int) func(r *view) (Judged, bool) {
	return func(r *view) (Judged, bool) {
		if r.Metrics == nil || r.Metrics.Latency[lat] == nil {
			return Judged{}, false
		}
		a, err := r.histogram(r.Metrics.Latency[lat])
		if err != nil || a.h.TotalCount() == 0 {
			return Judged{}, false
		}
		s := a.stats(0)
		return [...]Judged{s.P50, s.P90, s.P99, s.P999, reached(s.Max), reached(s.Mean)}[stat], true
	}
}

func countMetric(f func(r *view) int64) metric {
	return metric{unit: unitCount, get: func(r *view) (Judged, bool) { return reached(float64(f(r))), true }}
}

// latencyMetric reads a statistic of a latency kind. It has samples to
// stand on when any flow finished or went missing: with every flow
// missing, each percentile is beyond reach.
func latencyMetric(kind, stat int) func(r *view) (Judged, bool) {
	return func(r *view) (Judged, bool) {
		s := r.LatencyMS.byIndex(kind)
		if s.Count == 0 && (stat >= 4 || s.Missing == 0) {
			return Judged{}, false
		}
		return [...]Judged{s.P50, s.P90, s.P99, s.P999, reached(s.Max), reached(s.Mean)}[stat], true
	}
}

// missingWords name, per latency kind, the flows that finished and the
// ones that did not.
var missingWords = [...]struct{ finished, missing string }{
	latConnect: {"successful connect", "failed"},
	latAck:     {"acknowledged message", "unacknowledged"},
	latE2E:     {"delivered message", "lost"},
	latCommand: {"answered command", "unanswered"},
	latRequest: {"answered request", "unanswered"},
	latLag:     {"send", "missing"},
	latBackend: {"read", "missing"},
}

// beyondReason says why metric, a percentile of latency kind lat, is
// beyond reach.
func beyondReason(r *view, metric string, lat int) string {
	s, w := r.LatencyMS.byIndex(lat), missingWords[lat]
	return fmt.Sprintf("%s is beyond every %s: %s%% %s", metric, w.finished, fmtFloat(round3(s.MissingPct())), w.missing)
}

// connectSuccess is computed from the counts, not the rounded percent in
// the Result, so 99.9996% does not pass ">= 100%".
func connectSuccess(r *view) (Judged, bool) {
	attempts := r.Devices.Connects + r.Devices.ConnectFailures
	if attempts == 0 {
		return Judged{}, false
	}
	return reached(100 * float64(r.Devices.Connects) / float64(attempts)), true
}

// messageLoss is the loss over the timed messages, whose delivery was
// expected.
func messageLoss(r *view) (Judged, bool) {
	if r.Messages.Timed == 0 {
		return Judged{}, false
	}
	return reached(100 * float64(r.Messages.Lost) / float64(r.Messages.Timed)), true
}

var ops = map[string]func(a, b float64) bool{
	"<":  func(a, b float64) bool { return a < b },
	"<=": func(a, b float64) bool { return a <= b },
	">":  func(a, b float64) bool { return a > b },
	">=": func(a, b float64) bool { return a >= b },
	"==": func(a, b float64) bool { return a == b },
	"!=": func(a, b float64) bool { return a != b },
}

const opChars = "<>=!"

// ParseThreshold reads "<metric> <op> <value>", such as
// "latency.e2e.p99 < 250ms", "connect.success >= 99.9%" or
// "messages.lost == 0". The spaces are optional. A latency takes a duration
// or a bare number of milliseconds, a percent metric a percent or a bare
// number, a count a bare number. Errors are *ThresholdError.
func ParseThreshold(expr string) (Threshold, error) {
	fail := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, &ThresholdError{Expr: expr, Reason: fmt.Sprintf(format, a...)}
	}
	s := strings.TrimSpace(expr)
	i := strings.IndexAny(s, opChars)
	if i < 0 {
		return fail(`want "<metric> <op> <value>", such as "latency.e2e.p99 < 250ms"`)
	}
	j := i
	for j < len(s) && strings.IndexByte(opChars, s[j]) >= 0 {
		j++
	}
	name, op, val := strings.TrimSpace(s[:i]), s[i:j], strings.TrimSpace(s[j:])
	switch {
	case name == "":
		return fail("missing metric before %q; known: %s", op, knownMetrics)
	case ops[op] == nil:
		return fail("unknown operator %q; want one of <, <=, >, >=, ==, !=", op)
	case val == "":
		return fail("missing value after %q", op)
	}
	scope, of, bare, err := cutScope(name)
	if err != nil {
		return fail("%s", err)
	}
	m, ok := lookupMetric(bare)
	if !ok {
		return fail("unknown metric %q; known: %s, latency.NAME.{p50,...} of a latency a protocol names, counts.NAME "+
			"of a count it makes, and group.NAME. or protocol.NAME. before any of latency.*, messages.*, commands.unanswered, "+
			"requests.unanswered and counts.*", bare, knownMetrics)
	}
	v, err := parseValue(bare, m.unit, val)
	if err != nil {
		return fail("%s", err)
	}
	return Threshold{Expr: s, Metric: name, Op: op, Value: v, Scope: scope, Of: of}, nil
}

// parseValue reads val in the unit of metric name.
func parseValue(name string, want unit, val string) (float64, error) {
	got, v, err := readValue(val)
	if err != nil {
		return 0, err
	}
	if got != 0 && got != want {
		return 0, fmt.Errorf("%q is %s but %s is %s", val, got, name, want)
	}
	switch {
	case v < 0:
		return 0, fmt.Errorf("value %q is negative", val)
	case want == unitPercent && v > 100:
		return 0, fmt.Errorf("value %q is over 100%%", val)
	}
	return v, nil
}

// readValue reads a percent ("99.9%"), a duration ("250ms", returned in
// ms) or a bare number (unit 0).
func readValue(val string) (unit, float64, error) {
	if num, ok := strings.CutSuffix(val, "%"); ok {
		v, err := parseFinite(strings.TrimSpace(num))
		if err != nil {
			return 0, 0, fmt.Errorf("value %q: percent is not a number", val)
		}
		return unitPercent, v, nil
	}
	if v, err := parseFinite(val); err == nil {
		return 0, v, nil
	}
	d, err := time.ParseDuration(val)
	if err != nil {
		return 0, 0, fmt.Errorf("value %q is not a number, a percent (99.9%%) or a duration (250ms)", val)
	}
	return unitDuration, float64(d) / float64(time.Millisecond), nil
}

func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		return 0, strconv.ErrSyntax
	}
	return v, err
}

// Evaluate checks every threshold against r, records the outcomes in
// r.Thresholds and marks r failed if any threshold fails, unless r was
// interrupted or aborted. It reports whether all passed. A latency without
// samples, a connect success without attempts and a loss without timed
// messages fail with reason "no samples". A percentile beyond every
// finished flow counts as infinite: it fails <, <= and ==, with the share
// of flows missing as the reason.
func Evaluate(r *Result, ts []Threshold) bool {
	all := true
	r.Thresholds = make([]ThresholdResult, 0, len(ts))
	for _, t := range ts {
		tr := evaluate(r, t)
		all = all && tr.Passed
		r.Thresholds = append(r.Thresholds, tr)
	}
	if !all && r.Status != StatusInterrupted && r.Status != StatusAborted {
		r.Status = StatusFailed
	}
	return all
}

func evaluate(r *Result, t Threshold) ThresholdResult {
	tr := ThresholdResult{Expr: t.Expr}
	scope, of, bare, err := cutScope(t.Metric)
	m, ok := lookupMetric(bare)
	cmp := ops[t.Op]
	switch {
	case err != nil || !ok:
		tr.Reason = fmt.Sprintf("unknown metric %q", t.Metric)
		return tr
	case cmp == nil:
		tr.Reason = fmt.Sprintf("unknown operator %q", t.Op)
		return tr
	}
	vw, ok := scoped(r, scope, of)
	if !ok {
		tr.Reason = fmt.Sprintf("the run has no %s %q", scope, of)
		return tr
	}
	v, ok := m.get(vw)
	switch {
	case !ok:
		tr.Reason = "no samples"
	case v.Beyond:
		tr.Actual = beyond
		if tr.Passed = cmp(math.Inf(1), t.Value); !tr.Passed {
			tr.Reason = beyondReason(vw, t.Metric, m.lat-1)
		}
	default:
		tr.Actual = reached(round3(v.V))
		if tr.Passed = cmp(v.V, t.Value); !tr.Passed {
			tr.Reason = fmt.Sprintf("%s is %s, not %s %s", t.Metric, formatAgainst(v.V, t.Value, m.unit), t.Op, formatValue(t.Value, m.unit))
		}
	}
	return tr
}

// formatValue writes v in unit u for people.
func formatValue(v float64, u unit) string {
	// Ten significant digits show why 99.99996% fails ">= 100%" without
	// printing float noise.
	return withUnit(strconv.FormatFloat(v, 'g', 10, 64), u)
}

// formatAgainst formats v with as few significant digits (at least 4) as
// tell it apart from limit: 58.25%, but 99.99996% against 100%.
func formatAgainst(v, limit float64, u unit) string {
	for digits := 4; digits < 10; digits++ {
		if r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', digits, 64), 64); (r == limit) == (v == limit) {
			return withUnit(strconv.FormatFloat(v, 'g', digits, 64), u)
		}
	}
	return formatValue(v, u)
}

// withUnit appends u's sign to a formatted number.
func withUnit(s string, u unit) string {
	switch u {
	case unitDuration:
		return s + "ms"
	case unitPercent:
		return s + "%"
	}
	return s
}

// round3 rounds to three decimals: microseconds for values in ms.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
