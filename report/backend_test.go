package report

import (
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

func TestBehind(t *testing.T) {
	tests := []struct {
		lag  LatencyStats
		want bool
	}{
		{LatencyStats{}, false},
		{LatencyStats{Count: 1000, P99: reached(1.2), Max: 30}, false},
		{LatencyStats{Count: 1000, P99: reached(100), Max: 1000}, false},
		{LatencyStats{Count: 1000, P99: reached(100.001), Max: 120}, true},
		{LatencyStats{Count: 1000, P99: reached(0.5), Max: 1000.001}, true},
	}
	for _, tt := range tests {
		if got := behind(tt.lag); got != tt.want {
			t.Errorf("behind(%+v) = %v, want %v", tt.lag, got, tt.want)
		}
	}
}

// The collector applies the rule to the backend's lag over the run.
func TestCollectorBackend(t *testing.T) {
	tests := []struct {
		name string
		info Info
		lags []time.Duration // one each
		want Backend
	}{
		{"no lag measured", Info{Devices: 10}, nil, Backend{E2E: Sample{Fraction: 1, Devices: 10, Fleet: 10}}},
		{"kept up", Info{Devices: 10, BackendConnections: 2}, []time.Duration{ms, 2 * ms},
			Backend{Connections: 2, E2E: Sample{Fraction: 1, Devices: 10, Fleet: 10}}},
		{"a 10% sample", Info{Devices: 30, E2E: &sim.Sampling{Fraction: 0.1}, Groups: []GroupInfo{{Name: "a", Devices: 10, Timed: 1}, {Name: "b", Devices: 20, Timed: 2}}},
			nil, Backend{E2E: Sample{Fraction: 0.1, Devices: 3, Fleet: 30}}},
		{"none timed", Info{Devices: 30, E2E: &sim.Sampling{}, Groups: []GroupInfo{{Name: "a", Devices: 30, Timed: 0}}},
			nil, Backend{E2E: Sample{Fraction: 0, Devices: 0, Fleet: 30}}},
		{"groups that do not say, without a sample", Info{Devices: 30, Groups: []GroupInfo{{Name: "a", Devices: 10, Timed: 0}, {Name: "b", Devices: 20, Timed: 0}}},
			nil, Backend{E2E: Sample{Fraction: 1, Devices: 30, Fleet: 30}}},
		{"a group no backend receives, beside one it times", Info{Devices: 30, Groups: []GroupInfo{
			{Name: "mqtt", Devices: 10, Timed: 10}, {Name: "coap", Devices: 20, Untimed: true}}},
			nil, Backend{E2E: Sample{Fraction: 1, Devices: 10, Fleet: 30}}},
		{"only groups no backend receives", Info{Devices: 20, Groups: []GroupInfo{{Name: "coap", Devices: 20, Untimed: true}}},
			nil, Backend{E2E: Sample{Fraction: 1, Devices: 0, Fleet: 20}}},
		{"one stall over a second", Info{Devices: 1}, append(repeat(ms, 999), 1100*ms),
			Backend{E2E: Sample{Fraction: 1, Devices: 1, Fleet: 1}, Behind: true}},
		// 1 in 100 late keeps the p99 in time; 2 in 100 do not.
		{"p99 at the limit", Info{Devices: 1}, append(repeat(ms, 99), 500*ms),
			Backend{E2E: Sample{Fraction: 1, Devices: 1, Fleet: 1}}},
		{"p99 over the limit", Info{Devices: 1}, append(repeat(ms, 98), 500*ms, 500*ms),
			Backend{E2E: Sample{Fraction: 1, Devices: 1, Fleet: 1}, Behind: true}},
	}
	for _, tt := range tests {
		c := NewCollector(tt.info)
		for _, d := range tt.lags {
			c.Record(sim.Event{Kind: sim.BackendLag, At: time.Second, Latency: d})
		}
		if got := c.Result(StatusPassed, time.Second).Backend; got != tt.want {
			t.Errorf("%s: Backend = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestWarnings(t *testing.T) {
	lagging := Latencies{BackendLag: LatencyStats{Count: 100, P99: reached(350), Max: 2100}}
	tests := []struct {
		name string
		r    Result
		want []string // a distinctive part of each warning, in order
	}{
		{"nothing to say", Result{Status: StatusPassed}, nil},
		{"behind, without loss", Result{Backend: Backend{Behind: true, Connections: 4, E2E: Sample{Fraction: 1}}, LatencyMS: lagging},
			[]string{"m2msim's backend fell behind: it read messages up to 2.1s after they reached this host (lag p99 350ms). " +
				"End-to-end latency and loss may be partly m2msim's own: give the backend more connections " +
				"(backend: {connections: 8}) or time a sample of the fleet (backend: {e2e: 10%})."}},
		{"behind, a sample already", Result{Backend: Backend{Behind: true, E2E: Sample{Fraction: 0.1}}, LatencyMS: lagging},
			[]string{"(backend: {connections: 4}) or time a sample of the fleet (backend: {e2e: 5%})"}},
		{"behind, with loss past the broker", Result{Backend: Backend{Behind: true, E2E: Sample{Fraction: 1}}, LatencyMS: lagging,
			Messages: Messages{Lost: 30, LostUnacked: 5, LostAfterAck: 20, LostUnconfirmed: 5}},
			[]string{"fell behind", "25 lost messages were sent but never reached m2msim's backend while it was behind"}},
		{"loss past the broker, backend kept up", Result{Messages: Messages{Lost: 30, LostAfterAck: 30}}, nil},
		{"backend sends failed", Result{Errors: ErrorCounts{"backend_busy": 3, "backend_timeout": 2, "timeout": 9}},
			[]string{"m2msim's backend could not send 5 commands or answers (backend_busy 3, backend_timeout 2)"}},
		{"aborted", Result{Status: StatusAborted}, []string{"The drain was cut short by a second interrupt"}},
		{"sent late", Result{LatencyMS: Latencies{ScheduleLag: LatencyStats{Count: 10, P99: reached(150), Max: 900}}},
			[]string{"m2msim sent late (schedule lag p99 150ms, max 900ms)"}},
		{"sent a little late", Result{LatencyMS: Latencies{ScheduleLag: LatencyStats{Count: 10, P99: reached(100), Max: 900}}}, nil},
	}
	for _, tt := range tests {
		got := warnings(&tt.r)
		if got == nil {
			t.Errorf("%s: warnings = nil, want a non-nil list", tt.name)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: warnings = %q, want %d", tt.name, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %d = %q, want it to contain %q", tt.name, i, got[i], w)
			}
		}
	}
}

func TestLossLine(t *testing.T) {
	keptUp := Latencies{BackendLag: LatencyStats{Count: 100, P99: reached(1.2), Max: 3}}
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"nothing sent", Result{}, ""},
		{"none timed", Result{Messages: Messages{Sent: 10}}, "not measured: no device was timed end to end"},
		{"no loss", Result{Messages: Messages{Sent: 10, Timed: 5, Received: 5}}, "none of 5 timed"},
		{"before and after the broker's ack", Result{LatencyMS: keptUp,
			Messages: Messages{Sent: 50000, Timed: 50000, Lost: 1234, LossPct: 2.468, LostUnacked: 1000, LostAfterAck: 234}},
			"1234 of 50000 timed (2.468%): 1000 never acknowledged by the broker (it or the link lost them before accepting them); " +
				"234 acknowledged but never reached m2msim's backend.\n" +
				"          The broker dropped the acknowledged ones on the way out, or still held them at the end " +
				"(m2msim's backend kept up: lag p99 1.2ms). Mosquitto drops a subscriber's messages beyond max_queued_messages (1000 by default)."},
		{"never acknowledged only", Result{LatencyMS: keptUp,
			Messages: Messages{Timed: 100, Lost: 2, LossPct: 2, LostUnacked: 2}},
			"2 of 100 timed (2%): 2 never acknowledged by the broker (it or the link lost them before accepting them)."},
		{"QoS 0, lag not measured", Result{Messages: Messages{Timed: 100, Lost: 3, LossPct: 3, LostUnconfirmed: 3}},
			"3 of 100 timed (3%): 3 sent without acknowledgement (QoS 0) and never delivered.\n" +
				"          With no acknowledgement, the link or the broker lost them on the way in or out (m2msim's backend lag was not measured)."},
		{"behind", Result{Backend: Backend{Behind: true}, LatencyMS: Latencies{BackendLag: LatencyStats{Count: 100, P99: reached(350), Max: 2100}},
			Messages: Messages{Timed: 1000, Lost: 575, LossPct: 57.5, LostAfterAck: 575}},
			"575 of 1000 timed (57.5%): 575 acknowledged but never reached m2msim's backend.\n" +
				"          m2msim's backend fell behind (lag p99 350ms, max 2.1s), so this loss may be m2msim's own (see the warnings)."},
	}
	for _, tt := range tests {
		if got := lossLine(&tt.r); got != tt.want {
			t.Errorf("%s: lossLine =\n%q, want\n%q", tt.name, got, tt.want)
		}
	}
}

func TestSampleWords(t *testing.T) {
	tests := []struct {
		s    Sample
		want string
	}{
		{Sample{Fraction: 1, Devices: 1000, Fleet: 1000}, "all 1000 devices"},
		{Sample{Fraction: 1, Devices: 1, Fleet: 1}, "all 1 device"},
		{Sample{Fraction: 0, Fleet: 1000}, "none (e2e 0%)"},
		{Sample{Fraction: 0.1, Devices: 98, Fleet: 1000}, "98 of 1000 devices (10% of each group, chosen by the seed)"},
		{Sample{Fraction: 0.0125, Devices: 12, Fleet: 1000}, "12 of 1000 devices (1.25% of each group, chosen by the seed)"},
	}
	for _, tt := range tests {
		if got := sampleWords(tt.s); got != tt.want {
			t.Errorf("sampleWords(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestDevicesLine(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		// A 3 s run over a 1 s link: no attempt finished, none failed.
		{Result{Devices: Devices{Planned: 37, ConnectUnfinished: 37}},
			"37 planned, 0 connected at most; 0 connects, 0 failed (no attempt finished), 37 unfinished, 0 disconnects, 0 reconnects, 0 closed"},
		{Result{Devices: Devices{Planned: 2, ConnectedMax: 2, Connects: 3, ConnectFailures: 1}, Connect: ConnectStats{SuccessPct: 75}},
			"2 planned, 2 connected at most; 3 connects, 1 failed (75% success), 0 disconnects, 0 reconnects, 0 closed"},
	}
	for _, tt := range tests {
		if got := devicesLine(&tt.r); got != tt.want {
			t.Errorf("devicesLine(%+v) =\n%q, want\n%q", tt.r.Devices, got, tt.want)
		}
	}
}

func TestMissingCell(t *testing.T) {
	tests := []struct {
		kind int
		s    LatencyStats
		want string
	}{
		{latE2E, LatencyStats{Count: 425, Missing: 575}, "575 (57.5%)"},
		{latCommand, LatencyStats{Count: 2, Missing: 1}, "1 (33.333%)"},
		{latAck, LatencyStats{Count: 5}, "0"},
		{latBackend, LatencyStats{Count: 5}, "-"},
		{latLag, LatencyStats{Count: 5}, "-"},
	}
	for _, tt := range tests {
		if got := missingCell(tt.kind, tt.s); got != tt.want {
			t.Errorf("missingCell(%s, %+v) = %q, want %q", latencyNames[tt.kind], tt.s, got, tt.want)
		}
	}
	if len(latencyLabels) != numBuiltin || len(latencyNames) != numBuiltin {
		t.Errorf("%d latency labels, %d names, want %d of each", len(latencyLabels), len(latencyNames), numBuiltin)
	}
}
