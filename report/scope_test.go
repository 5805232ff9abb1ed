package report

import (
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// A threshold may name one group or one protocol: its latencies, its
// messages and its protocol's counts, read from that part of the run;
// counts.NAME reads a protocol's count over the run.
func TestScopedThresholds(t *testing.T) {
	c := NewCollector(Info{Name: "s", Devices: 30, Duration: 2 * time.Second, Groups: []GroupInfo{
		{Name: "meters", Devices: 10, Protocol: "mqtt"},
		{Name: "sensors", Devices: 10, Protocol: "coap"},
		{Name: "gauges", Devices: 10, Protocol: "coap"}}})
	at := func(i int) time.Duration { return time.Duration(i) * 10 * time.Millisecond }
	for i := range 50 {
		for g, lat := range []time.Duration{5 * time.Millisecond, 300 * time.Millisecond, 100 * time.Millisecond} {
			c.Record(sim.Event{Kind: sim.Published, Group: g, At: at(i), Intended: at(i), Timed: true})
			c.Record(sim.Event{Kind: sim.Delivered, Group: g, At: at(i) + lat, Latency: lat, Intended: at(i)})
		}
		c.Record(sim.Event{Kind: sim.Measured, Metric: "dtls_handshake", Group: 1 + i%2, At: at(i), Latency: time.Duration(10+i) * time.Millisecond})
	}
	c.Record(sim.Event{Kind: sim.Counted, Metric: "coap_retransmit", Group: 2, At: time.Second})
	r := c.Result(StatusPassed, 2*time.Second)
	for _, tc := range []struct {
		expr   string
		pass   bool
		reason string
	}{
		{"latency.e2e.p99 < 250ms", false, "latency.e2e.p99 is"},
		{"group.meters.latency.e2e.p99 < 10ms", true, ""},
		{"group.sensors.latency.e2e.p50 < 250ms", false, "group.sensors.latency.e2e.p50 is 3"},
		{"protocol.mqtt.latency.e2e.max < 10ms", true, ""},
		{"protocol.coap.latency.e2e.p50 >= 100ms", true, ""},
		{"protocol.coap.messages.sent == 100", true, ""},
		{"group.gauges.messages.lost == 0", true, ""},
		{"counts.coap_retransmit == 1", true, ""},
		{"group.sensors.counts.coap_retransmit == 0", true, ""},
		{"group.gauges.counts.coap_retransmit == 0", false, "is 1"},
		{"counts.coap_4_04 == 0", true, ""}, // never counted: none
		{"group.sensors.latency.dtls_handshake.max < 60ms", true, ""},
		{"group.gauges.latency.dtls_handshake.max < 58ms", false, "is 59"},
		{"protocol.coap.latency.dtls_handshake.max <= 59ms", true, ""},
		{"group.pumps.messages.lost == 0", false, `the run has no group "pumps"`},
		{"protocol.http.latency.e2e.p99 < 1s", false, `the run has no protocol "http"`},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Errorf("ParseThreshold(%q): %v", tc.expr, err)
			continue
		}
		Evaluate(r, []Threshold{th})
		got := r.Thresholds[0]
		if got.Passed != tc.pass || !strings.Contains(got.Reason, tc.reason) {
			t.Errorf("%s: passed %v (%q), want %v (%q)", tc.expr, got.Passed, got.Reason, tc.pass, tc.reason)
		}
	}
}

// A scope takes only the metrics a group or protocol has, and says so.
func TestScopedThresholdErrors(t *testing.T) {
	for expr, want := range map[string]string{
		"group.meters < 1":                           "want group.NAME.METRIC",
		"group.meters.connect.success > 99%":         "want group.NAME.METRIC",
		"protocol.coap.errors.total == 0":            "want protocol.NAME.METRIC",
		"protocol.coap.latency.e2f.p99 < 1s":         "unknown metric",
		"group.a.counts.Bad-Name == 0":               "unknown metric",
		"group.a.b.latency.e2e.p99 < 1s":             "",
		"protocol.coap.messages.loss < 1%":           "",
		"group.x.commands.unanswered == 0":           "",
		"protocol.lwm2m.counts.lwm2m_fw_failed < 10": "",
	} {
		_, err := ParseThreshold(expr)
		switch {
		case want == "" && err != nil:
			t.Errorf("ParseThreshold(%q): %v", expr, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("ParseThreshold(%q) = %v, want an error with %q", expr, err, want)
		}
	}
}

// A scoped metric keeps its unit, for the report's verdict table.
func TestThresholdUnit(t *testing.T) {
	for expr, want := range map[string]string{
		"protocol.http.latency.e2e.p99 < 1s":   "ms",
		"group.a.latency.dtls_handshake.max<1": "ms",
		"protocol.coap.messages.loss < 1%":     "%",
		"connect.success > 99%":                "%",
		"group.a.counts.coap_4_04 == 0":        "",
		"messages.lost == 0":                   "",
	} {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Unit(); got != want {
			t.Errorf("%s: unit %q, want %q", expr, got, want)
		}
	}
}
