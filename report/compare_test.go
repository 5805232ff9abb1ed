package report

import "testing"

func TestCompare(t *testing.T) {
	base := goldenResult(t)
	same := Compare(base, base, Tolerance{})
	if len(same) == 0 {
		t.Fatal("Compare(r, r) compared nothing")
	}
	for _, d := range same {
		if d.Regressed {
			t.Errorf("Compare(r, r): %s regressed (%v -> %v)", d.Metric, d.Base, d.New)
		}
	}
	worse := goldenResult(t)
	worse.LatencyMS.Ack.P99 = reached(base.LatencyMS.Ack.P99.V*1.5 + 2)
	worse.Messages.LossPct = base.Messages.LossPct + 1
	got := map[string]bool{}
	for _, d := range Compare(base, worse, Tolerance{}) {
		got[d.Metric] = d.Regressed
	}
	if !got["latency.ack.p99"] || !got["messages.loss"] || got["latency.ack.p50"] {
		t.Errorf("Compare(base, doctored) regressions = %v, want ack p99 and loss only", got)
	}
	if d := Compare(base, worse, Tolerance{LatencyPct: 1000, LossPts: 5}); regressed(d) {
		t.Errorf("Compare with a wide tolerance found a regression: %+v", d)
	}
}

func regressed(ds []Difference) bool {
	for _, d := range ds {
		if d.Regressed {
			return true
		}
	}
	return false
}
