package report

import (
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// A latency and a count a protocol names reach the result, its timeline,
// a rebuild, a merge and a threshold by name, with no change in report.
func TestNamedMetricsFlowThrough(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewCollector(Info{Name: "n", Devices: 10, Duration: 5 * time.Second, Started: start,
		Groups: []GroupInfo{{Name: "g", Devices: 10}}})
	for i := range 100 {
		at := time.Duration(i) * 50 * time.Millisecond
		d := time.Duration(10+i%10) * time.Millisecond
		c.Record(sim.Event{Kind: sim.Measured, Metric: "dtls_handshake", At: at + d, Latency: d})
		if i%4 == 0 {
			c.Record(sim.Event{Kind: sim.Counted, Metric: "coap_retransmit", At: at})
		}
	}
	c.Record(sim.Event{Kind: sim.Measured, Metric: "Bad Name", At: time.Second, Latency: time.Millisecond})
	r := c.Result(StatusPassed, 5*time.Second)
	lm := r.Metrics.Latency["dtls_handshake"]
	if lm == nil || lm.Run.N != 100 || lm.Run.MaxUS != 19000 {
		t.Fatalf("metrics.latency.dtls_handshake = %+v, want 100 samples up to 19 ms", lm)
	}
	if cm := r.Metrics.Counters["coap_retransmit"]; cm == nil || cm.Run != 25 || cm.Intervals[0] != 5 {
		t.Errorf("metrics.counters.coap_retransmit = %+v, want 25, 5 in the first second", cm)
	}
	if r.Errors["too_many_metrics"] != 1 {
		t.Errorf("errors = %v, want the badly named sample counted as too_many_metrics", r.Errors)
	}
	points, err := Timeline(r)
	if err != nil {
		t.Fatal(err)
	}
	if q := points[1].Latency["dtls_handshake"]; q.Count != 20 || q.Max != 19 {
		t.Errorf("interval 1 dtls_handshake = %+v, want 20 samples up to 19 ms", q)
	}
	merged, err := Merge(r, r)
	if err != nil {
		t.Fatal(err)
	}
	if n := merged.Metrics.Latency["dtls_handshake"].Run.N; n != 200 {
		t.Errorf("merged dtls_handshake has %d samples, want 200", n)
	}
	if n := merged.Metrics.Counters["coap_retransmit"].Run; n != 50 {
		t.Errorf("merged coap_retransmit = %d, want 50", n)
	}
	for expr, pass := range map[string]bool{"latency.dtls_handshake.p99 < 20ms": true, "latency.dtls_handshake.max < 15ms": false} {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Fatalf("ParseThreshold(%q): %v", expr, err)
		}
		if got := Evaluate(merged, []Threshold{th}); got != pass {
			t.Errorf("%s on the merge = %v, want %v (%+v)", expr, got, pass, merged.Thresholds)
		}
	}
	if _, err := ParseThreshold("latency.e2f.p99 < 1s"); err == nil {
		t.Error(`ParseThreshold("latency.e2f.p99 < 1s") took a typo of e2e for a protocol's latency`)
	}
}

func TestSummaryShowsNamedLatencies(t *testing.T) {
	c := NewCollector(Info{Name: "n", Devices: 1, Duration: time.Second})
	c.Record(sim.Event{Kind: sim.Measured, Metric: "dtls_handshake", At: time.Millisecond, Latency: 40 * time.Millisecond})
	var b strings.Builder
	if err := WriteSummary(&b, c.Result(StatusPassed, time.Second)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "dtls_handshake") || !strings.Contains(b.String(), "40.000") {
		t.Errorf("summary lacks the dtls_handshake row:\n%s", b.String())
	}
}

// A protocol's counts are kept per group too, and survive a rebuild and
// a merge; the summary lists them.
func TestNamedCountsPerGroup(t *testing.T) {
	c := NewCollector(Info{Name: "n", Devices: 20, Duration: 2 * time.Second,
		Groups: []GroupInfo{{Name: "meters", Devices: 10, Protocol: "mqtt"}, {Name: "sensors", Devices: 10, Protocol: "coap", Untimed: true}}})
	for i := range 30 {
		c.Record(sim.Event{Kind: sim.Counted, Metric: "coap_2_04", Group: 1, At: time.Duration(i) * 50 * time.Millisecond})
	}
	c.Record(sim.Event{Kind: sim.Counted, Metric: "coap_retransmit", Group: 1, At: time.Second})
	r := c.Result(StatusPassed, 2*time.Second)
	if g := r.Groups[1]; g.Protocol != "coap" || g.Counts["coap_2_04"] != 30 || g.Counts["coap_retransmit"] != 1 {
		t.Errorf("groups[1] = protocol %q, counts %v; want coap, 30 x coap_2_04 and 1 retransmission", g.Protocol, g.Counts)
	}
	if len(r.Groups[0].Counts) != 0 {
		t.Errorf("groups[0].counts = %v, want none", r.Groups[0].Counts)
	}
	if cm := r.Metrics.Counters["coap_2_04"]; cm == nil || len(cm.Groups) != 2 || cm.Groups[1] != 30 {
		t.Errorf("metrics.counters.coap_2_04 = %+v, want groups [0 30]", cm)
	}
	rebuilt, err := Rebuild(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := rebuilt.Groups[1].Counts["coap_2_04"]; got != 30 {
		t.Errorf("rebuilt groups[1].counts.coap_2_04 = %d, want 30", got)
	}
	merged, err := Merge(r, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := merged.Groups[1].Counts["coap_2_04"]; got != 60 {
		t.Errorf("merged groups[1].counts.coap_2_04 = %d, want 60", got)
	}
	var b strings.Builder
	if err := WriteSummary(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "counts    coap_2_04 30, coap_retransmit 1\n") {
		t.Errorf("summary lacks the counts line:\n%s", b.String())
	}
}
