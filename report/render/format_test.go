package render

import (
	"math"
	"testing"

	"github.com/m2msim/m2msim/report"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		in   report.ThresholdResult
		want verdict
	}{
		{report.ThresholdResult{Expr: "latency.e2e.p99<250ms", Actual: report.Judged{V: 12.5}, Passed: true},
			verdict{Expr: "latency.e2e.p99<250ms", Measured: "12.5ms", Limit: "< 250ms", Passed: true}},
		{report.ThresholdResult{Expr: "latency.e2e.p99 <= 1s", Actual: report.Judged{Beyond: true}, Reason: "beyond"},
			verdict{Expr: "latency.e2e.p99 <= 1s", Measured: "> all", Limit: "<= 1s", Reason: "beyond"}},
		{report.ThresholdResult{Expr: "messages.loss < 1%", Reason: noSamples},
			verdict{Expr: "messages.loss < 1%", Measured: noSamples, Limit: "< 1%", Reason: noSamples}},
		{report.ThresholdResult{Expr: "errors.total == 0", Actual: report.Judged{V: 3}, Reason: "errors.total is 3, not == 0"},
			verdict{Expr: "errors.total == 0", Measured: "3", Limit: "== 0", Reason: "errors.total is 3, not == 0"}},
		{report.ThresholdResult{Expr: "nonsense", Actual: report.Judged{V: 1}},
			verdict{Expr: "nonsense", Measured: "1"}},
	}
	for _, tt := range tests {
		if got := verdictOf(tt.in); got != tt.want {
			t.Errorf("verdictOf(%+v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestFormats(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		name string
		f    func(float64) string
		in   float64
		want string
	}{
		{"sig3", sig3, 1234.6, "1235"},
		{"sig3", sig3, 12.345, "12.3"},
		{"sig3", sig3, 0.012345, "0.012"},
		{"sig3", sig3, 0, "0"},
		{"capMS", capMS, inf, beyondReach},
		{"capMS", capMS, nan, "n/a"},
		{"num", num, 99.70249, "99.702"},
		{"seconds", seconds, 90.5, "1m30.5s"},
		{"seconds", seconds, nan, "n/a"},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s(%v) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
