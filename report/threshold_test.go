package report

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		expr string
		want Threshold
	}{
		{"latency.e2e.p99 < 250ms", Threshold{Expr: "latency.e2e.p99 < 250ms", Metric: "latency.e2e.p99", Op: "<", Value: 250}},
		{"latency.ack.p50 <= 1.5s", Threshold{Expr: "latency.ack.p50 <= 1.5s", Metric: "latency.ack.p50", Op: "<=", Value: 1500}},
		{"latency.connect.max < 250", Threshold{Expr: "latency.connect.max < 250", Metric: "latency.connect.max", Op: "<", Value: 250}},
		{"latency.schedule_lag.p999<500us", Threshold{Expr: "latency.schedule_lag.p999<500us", Metric: "latency.schedule_lag.p999", Op: "<", Value: 0.5}},
		{"  latency.command.mean > 0.25  ", Threshold{Expr: "latency.command.mean > 0.25", Metric: "latency.command.mean", Op: ">", Value: 0.25}},
		{"latency.request.p90 >= 1m", Threshold{Expr: "latency.request.p90 >= 1m", Metric: "latency.request.p90", Op: ">=", Value: 60000}},
		{"connect.success >= 99.9%", Threshold{Expr: "connect.success >= 99.9%", Metric: "connect.success", Op: ">=", Value: 99.9}},
		{"connect.success == 100", Threshold{Expr: "connect.success == 100", Metric: "connect.success", Op: "==", Value: 100}},
		{"messages.loss < 0.1 %", Threshold{Expr: "messages.loss < 0.1 %", Metric: "messages.loss", Op: "<", Value: 0.1}},
		{"messages.sent > 1000", Threshold{Expr: "messages.sent > 1000", Metric: "messages.sent", Op: ">", Value: 1000}},
		{"messages.received >= 1e3", Threshold{Expr: "messages.received >= 1e3", Metric: "messages.received", Op: ">=", Value: 1000}},
		{"messages.lost == 0", Threshold{Expr: "messages.lost == 0", Metric: "messages.lost", Op: "==", Value: 0}},
		{"messages.duplicates != 0", Threshold{Expr: "messages.duplicates != 0", Metric: "messages.duplicates", Op: "!=", Value: 0}},
		{"devices.connected_max >= 1000", Threshold{Expr: "devices.connected_max >= 1000", Metric: "devices.connected_max", Op: ">=", Value: 1000}},
		{"errors.total<=5", Threshold{Expr: "errors.total<=5", Metric: "errors.total", Op: "<=", Value: 5}},
		{"commands.unanswered == 0", Threshold{Expr: "commands.unanswered == 0", Metric: "commands.unanswered", Op: "==", Value: 0}},
		{"requests.unanswered < 10", Threshold{Expr: "requests.unanswered < 10", Metric: "requests.unanswered", Op: "<", Value: 10}},
		{"messages.lost_after_ack == 0", Threshold{Expr: "messages.lost_after_ack == 0", Metric: "messages.lost_after_ack", Op: "==", Value: 0}},
		{"connect.unfinished <= 3", Threshold{Expr: "connect.unfinished <= 3", Metric: "connect.unfinished", Op: "<=", Value: 3}},
		{"latency.backend_lag.p99 < 100ms", Threshold{Expr: "latency.backend_lag.p99 < 100ms", Metric: "latency.backend_lag.p99", Op: "<", Value: 100}},
	}
	for _, tt := range tests {
		got, err := ParseThreshold(tt.expr)
		if err != nil || got != tt.want {
			t.Errorf("ParseThreshold(%q) = %+v, %v, want %+v", tt.expr, got, err, tt.want)
		}
	}
}

func TestParseThresholdErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string // substring of the error
	}{
		{"", `want "<metric> <op> <value>"`},
		{"latency.e2e.p99", `want "<metric> <op> <value>"`},
		{"< 250ms", "missing metric"},
		{"latency.e2e.p99 = 250ms", `unknown operator "="`},
		{"latency.e2e.p99 => 250ms", `unknown operator "=>"`},
		{"latency.e2e.p99 <> 250ms", `unknown operator "<>"`},
		{"latency.e2e.p99 !< 250ms", `unknown operator "!<"`},
		{"latency.e2e.p99 <", `missing value after "<"`},
		{"latency.e2e.p98 < 1s", `unknown metric "latency.e2e.p98"; known: latency.{connect,`},
		{"latency.e2e < 1s", `unknown metric "latency.e2e"`},
		{"Latency.e2e.p99 < 1s", `unknown metric "Latency.e2e.p99"`},
		{"latency.e2e.p99 < 99.9%", `"99.9%" is a percent but latency.e2e.p99 is a duration`},
		{"connect.success > 250ms", `"250ms" is a duration but connect.success is a percent`},
		{"messages.sent > 1s", `"1s" is a duration but messages.sent is a count`},
		{"messages.lost < 1%", `"1%" is a percent but messages.lost is a count`},
		{"commands.unanswered < 1%", `"1%" is a percent but commands.unanswered is a count`},
		{"latency.backend_lag.p95 < 1s", `unknown metric "latency.backend_lag.p95"; known: latency.{connect,ack,e2e,command,request,schedule_lag,backend_lag}`},
		{"latency.e2e.p99 < fast", `value "fast" is not a number, a percent (99.9%) or a duration (250ms)`},
		{"latency.e2e.p99 < 250 ms", `value "250 ms" is not a number`},
		{"connect.success > abc%", `value "abc%": percent is not a number`},
		{"latency.e2e.p99 < -1ms", `value "-1ms" is negative`},
		{"messages.sent > -5", `value "-5" is negative`},
		{"connect.success > 101%", `value "101%" is over 100%`},
		{"messages.loss < 150", `value "150" is over 100%`},
		{"messages.sent < NaN", `value "NaN" is not a number`},
		{"messages.sent < +Inf", `value "+Inf" is not a number`},
	}
	for _, tt := range tests {
		got, err := ParseThreshold(tt.expr)
		var te *ThresholdError
		if !errors.As(err, &te) {
			t.Errorf("ParseThreshold(%q) = %+v, %v, want a *ThresholdError", tt.expr, got, err)
			continue
		}
		if te.Expr != tt.expr || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseThreshold(%q) error = %q (expr %q), want it to contain %q", tt.expr, err, te.Expr, tt.want)
		}
	}
}

// thresholdResult is a Result with known figures for Evaluate tests.
func thresholdResult() *Result {
	return &Result{
		Status:  StatusPassed,
		Devices: Devices{Planned: 100, ConnectedMax: 99, Connects: 999, ConnectFailures: 1, ConnectUnfinished: 4},
		Messages: Messages{Sent: 2000, Timed: 1000, Acked: 1800, Unacked: 7, Received: 990, Lost: 10, Duplicates: 2,
			LostUnacked: 3, LostAfterAck: 5, LostUnconfirmed: 2},
		Commands: Commands{Sent: 270, Replied: 158, Unanswered: 112},
		Requests: Requests{Sent: 5, Answered: 5},
		LatencyMS: Latencies{
			E2E: LatencyStats{Count: 990, Missing: 10, P50: reached(1.2), P90: reached(1.5), P99: reached(1.8), P999: beyond, Max: 3.1, Mean: 1.3},
			// 57.5% of the commands unanswered: p50 and up are beyond reach.
			Command:    LatencyStats{Count: 425, Missing: 575, P50: beyond, P90: beyond, P99: beyond, P999: beyond, Max: 80, Mean: 20},
			Request:    LatencyStats{Missing: 3, P50: beyond, P90: beyond, P99: beyond, P999: beyond},
			BackendLag: LatencyStats{Count: 990, P50: reached(0.05), P90: reached(0.1), P99: reached(0.4), P999: reached(2), Max: 7, Mean: 0.07},
		},
		Errors: ErrorCounts{"timeout": 2, "refused": 1},
	}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		expr       string
		wantPass   bool
		wantActual float64
		wantReason string
	}{
		{"latency.e2e.p99 < 250ms", true, 1.8, ""},
		{"latency.e2e.p99 < 1.8", false, 1.8, "latency.e2e.p99 is 1.8ms, not < 1.8ms"},
		{"latency.e2e.p99 <= 1.8", true, 1.8, ""},
		{"latency.e2e.p50 == 1.2ms", true, 1.2, ""},
		{"latency.e2e.p90 > 1.5", false, 1.5, "latency.e2e.p90 is 1.5ms, not > 1.5ms"},
		{"latency.e2e.p99 >= 1.8", true, 1.8, ""},
		{"latency.e2e.max != 3.1", false, 3.1, "latency.e2e.max is 3.1ms, not != 3.1ms"},
		{"latency.e2e.mean < 2", true, 1.3, ""},
		{"latency.connect.p99 < 1s", false, 0, "no samples"},
		{"latency.ack.max >= 0", false, 0, "no samples"},
		{"connect.success >= 99.9%", true, 99.9, ""},
		{"connect.success > 99.9%", false, 99.9, "connect.success is 99.9%, not > 99.9%"},
		{"messages.loss < 1%", false, 1, "messages.loss is 1%, not < 1%"},
		{"messages.loss <= 1%", true, 1, ""},
		{"messages.sent == 2000", true, 2000, ""},
		{"messages.received > 990", false, 990, "messages.received is 990, not > 990"},
		{"messages.lost <= 10", true, 10, ""},
		{"messages.duplicates == 0", false, 2, "messages.duplicates is 2, not == 0"},
		{"devices.connected_max >= 100", false, 99, "devices.connected_max is 99, not >= 100"},
		{"errors.total == 3", true, 3, ""},
		{"messages.timed == 1000", true, 1000, ""},
		{"messages.unacked <= 7", true, 7, ""},
		{"messages.lost_unacked == 3", true, 3, ""},
		{"messages.lost_after_ack == 0", false, 5, "messages.lost_after_ack is 5, not == 0"},
		{"messages.lost_unconfirmed < 2", false, 2, "messages.lost_unconfirmed is 2, not < 2"},
		{"commands.unanswered == 0", false, 112, "commands.unanswered is 112, not == 0"},
		{"requests.unanswered == 0", true, 0, ""},
		{"connect.unfinished < 5", true, 4, ""},
		{"latency.backend_lag.p99 < 100ms", true, 0.4, ""},
		{"latency.backend_lag.max < 5", false, 7, "latency.backend_lag.max is 7ms, not < 5ms"},
		// Loss is over the timed messages, not all sent.
		{"messages.loss <= 0.5%", false, 1, "messages.loss is 1%, not <= 0.5%"},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("ParseThreshold(%q): %v", tt.expr, err)
		}
		r := thresholdResult()
		got := Evaluate(r, []Threshold{th})
		want := ThresholdResult{Expr: tt.expr, Actual: reached(tt.wantActual), Passed: tt.wantPass, Reason: tt.wantReason}
		if got != tt.wantPass || len(r.Thresholds) != 1 || r.Thresholds[0] != want {
			t.Errorf("Evaluate(%q) = %v, %+v, want %v, %+v", tt.expr, got, r.Thresholds, tt.wantPass, want)
		}
		wantStatus := StatusPassed
		if !tt.wantPass {
			wantStatus = StatusFailed
		}
		if r.Status != wantStatus {
			t.Errorf("Evaluate(%q) status = %q, want %q", tt.expr, r.Status, wantStatus)
		}
	}
}

func TestEvaluateBeyond(t *testing.T) {
	tests := []struct {
		expr       string
		wantPass   bool
		wantReason string
	}{
		{"latency.e2e.p999 < 1h", false, "latency.e2e.p999 is beyond every delivered message: 1% lost"},
		{"latency.e2e.p999 <= 1h", false, "latency.e2e.p999 is beyond every delivered message: 1% lost"},
		{"latency.e2e.p999 == 0", false, "latency.e2e.p999 is beyond every delivered message: 1% lost"},
		{"latency.command.p50 < 100ms", false, "latency.command.p50 is beyond every answered command: 57.5% unanswered"},
		{"latency.request.p99 < 1s", false, "latency.request.p99 is beyond every answered request: 100% unanswered"},
		// Beyond reach counts as infinite.
		{"latency.e2e.p999 > 1h", true, ""},
		{"latency.e2e.p999 >= 0", true, ""},
		{"latency.e2e.p999 != 5", true, ""},
		// max and mean cover the finished flows.
		{"latency.command.max < 100ms", true, ""},
		{"latency.request.max < 1s", false, "no samples"},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("ParseThreshold(%q): %v", tt.expr, err)
		}
		r := thresholdResult()
		Evaluate(r, []Threshold{th})
		got := r.Thresholds[0]
		if got.Passed != tt.wantPass || got.Reason != tt.wantReason {
			t.Errorf("Evaluate(%q) = %+v, want passed %v, reason %q", tt.expr, got, tt.wantPass, tt.wantReason)
		}
		if strings.Contains(tt.expr, "p") && !strings.Contains(tt.expr, "max") && tt.wantReason != "no samples" && got.Actual != beyond {
			t.Errorf("Evaluate(%q) actual = %+v, want beyond reach", tt.expr, got.Actual)
		}
	}
}

// knownMetrics, which error messages show, names exactly the metrics
// there are.
func TestKnownMetrics(t *testing.T) {
	var listed []string
	for _, part := range strings.Split(knownMetrics, ", ") {
		listed = append(listed, expandBraces(part)...)
	}
	seen := map[string]bool{}
	for _, name := range listed {
		if _, ok := metrics[name]; !ok {
			t.Errorf("knownMetrics lists %q, which is no metric", name)
		}
		seen[name] = true
	}
	for name := range metrics {
		if !seen[name] {
			t.Errorf("metric %q is missing from knownMetrics", name)
		}
	}
}

// expandBraces expands "a.{b,c}.{d,e}" into a.b.d, a.b.e, a.c.d, a.c.e.
func expandBraces(s string) []string {
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return []string{s}
	}
	j := i + strings.IndexByte(s[i:], '}')
	var out []string
	for _, alt := range strings.Split(s[i+1:j], ",") {
		out = append(out, expandBraces(s[:i]+alt+s[j+1:])...)
	}
	return out
}

func TestEvaluateNoSamples(t *testing.T) {
	empty := &Result{Status: StatusPassed}
	for _, expr := range []string{"connect.success >= 0%", "messages.loss <= 100%", "latency.e2e.p99 < 1h"} {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Fatalf("ParseThreshold(%q): %v", expr, err)
		}
		if Evaluate(empty, []Threshold{th}) || empty.Thresholds[0].Reason != "no samples" {
			t.Errorf("Evaluate(%q) on an empty result = %+v, want a failure with reason \"no samples\"", expr, empty.Thresholds)
		}
	}
}

func TestEvaluateStatus(t *testing.T) {
	pass, _ := ParseThreshold("messages.sent > 0")
	fail, _ := ParseThreshold("messages.sent > 1e9")
	tests := []struct {
		status  Status
		ts      []Threshold
		wantAll bool
		want    Status
	}{
		{StatusPassed, nil, true, StatusPassed},
		{StatusPassed, []Threshold{pass}, true, StatusPassed},
		{StatusPassed, []Threshold{pass, fail}, false, StatusFailed},
		{StatusInterrupted, []Threshold{fail}, false, StatusInterrupted},
		{StatusAborted, []Threshold{fail}, false, StatusAborted},
		{StatusFailed, []Threshold{pass}, true, StatusFailed},
	}
	for _, tt := range tests {
		r := thresholdResult()
		r.Status = tt.status
		all := Evaluate(r, tt.ts)
		if all != tt.wantAll || r.Status != tt.want || len(r.Thresholds) != len(tt.ts) {
			t.Errorf("Evaluate(status %q, %d thresholds) = %v, status %q, %d results, want %v, status %q",
				tt.status, len(tt.ts), all, r.Status, len(r.Thresholds), tt.wantAll, tt.want)
		}
	}
}

func TestEvaluateHandBuilt(t *testing.T) {
	r := thresholdResult()
	ts := []Threshold{{Expr: "x", Metric: "nope", Op: "<", Value: 1}, {Expr: "y", Metric: "messages.sent", Op: "~", Value: 1}}
	if Evaluate(r, ts) {
		t.Fatalf("Evaluate(unknown metric and operator) = true, want false")
	}
	for i, want := range []string{`unknown metric "nope"`, `unknown operator "~"`} {
		if r.Thresholds[i].Passed || r.Thresholds[i].Reason != want {
			t.Errorf("Evaluate(%+v) = %+v, want a failure with reason %q", ts[i], r.Thresholds[i], want)
		}
	}
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"latency.e2e.p99 < 250ms", "connect.success >= 99.9%", "messages.lost == 0",
		"errors.total<=5", "latency.ack.max != 1.5s", "a<b", "<=>", "x % y", "commands.unanswered == 0",
		"latency.backend_lag.p999 < 1s", "messages.lost_after_ack <= 10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := ParseThreshold(expr)
		if err != nil {
			var te *ThresholdError
			if !errors.As(err, &te) {
				t.Fatalf("ParseThreshold(%q) error %v is not a *ThresholdError", expr, err)
			}
			return
		}
		m, ok := metrics[th.Metric]
		if !ok || ops[th.Op] == nil || math.IsNaN(th.Value) || math.IsInf(th.Value, 0) || th.Value < 0 ||
			(m.unit == unitPercent && th.Value > 100) {
			t.Fatalf("ParseThreshold(%q) = %+v, which is not a valid threshold", expr, th)
		}
		again, err := ParseThreshold(th.Expr)
		if err != nil || again != th {
			t.Fatalf("ParseThreshold(%q) = %+v, %v, want it to reparse to %+v", th.Expr, again, err, th)
		}
	})
}
