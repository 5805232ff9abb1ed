package scenarios

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/sim"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// examples lists the shipped scenarios.
func examples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v, %v; want at least 4 files", files, err)
	}
	return withoutWire(files, hasWireCaps() || os.Getenv("CI") != "")
}

// withoutWire drops the examples that need link.engine: wire (root)
// unless the wire may run; in CI, which runs as root, it always may.
func withoutWire(files []string, wire bool) []string {
	if wire {
		return files
	}
	var out []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err != nil || !bytes.Contains(b, []byte("engine: wire")) {
			out = append(out, f)
		}
	}
	return out
}

// normalised is s's normalised form as indented JSON.
func normalised(t *testing.T, s *Scenario) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		t.Fatalf("encode %s: %v", s.File, err)
	}
	return b.Bytes()
}

func TestExamplesGolden(t *testing.T) {
	for _, file := range examples(t) {
		s, err := Load(file)
		if err != nil {
			t.Errorf("Load(%q) = %v", file, err)
			continue
		}
		got := normalised(t, s)
		golden := filepath.Join("testdata", strings.TrimSuffix(filepath.Base(file), ".yaml")+".golden.json")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Errorf("%v (run go test ./scenarios -update)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("normalised %s differs from %s:\n%s", file, golden, got)
		}
	}
}

// TestNormalisedRoundTrip checks that the normalised form, read back as
// a scenario (JSON is YAML), gives the same scenario.
func TestNormalisedRoundTrip(t *testing.T) {
	for _, file := range examples(t) {
		s, err := Load(file)
		if err != nil {
			t.Fatalf("Load(%q) = %v", file, err)
		}
		first := normalised(t, s)
		again, err := Parse(file, first)
		if err != nil {
			t.Fatalf("Parse(normalised %s) = %v", file, err)
		}
		if second := normalised(t, again); !bytes.Equal(first, second) {
			t.Errorf("normalised %s changed when read back:\n%s\nwant:\n%s", file, second, first)
		}
	}
}

func TestPlanQuickstart(t *testing.T) {
	s, err := Load("examples/quickstart.yaml")
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	p := s.Plan()
	g := p.Groups[0]
	tests := []struct {
		field string
		got   any
		want  any
	}{
		{"Name", p.Name, "quickstart"},
		{"Seed", p.Seed, uint64(0)},
		{"Duration", p.Duration, 30 * time.Second},
		{"Drain", p.Drain, 5 * time.Second},
		{"Devices", p.Devices(), 1000},
		{"len(Groups)", len(p.Groups), 1},
		{"len(Stages)", len(p.Stages), 0},
		{"Group.Name", g.Name, "devices"},
		{"Group.ClientID", g.ClientID.String(), "{{group}}-{{index}}"},
		{"Connect.Rate", g.Connect.Rate, sim.Rate{Freq: 500, Per: time.Second}},
		{"Connect.Timeout", g.Connect.Timeout, 10 * time.Second},
		{"Connect.KeepAlive", g.Connect.KeepAlive, time.Minute},
		{"Connect.CleanSession", g.Connect.CleanSession, true},
		{"Reconnect", g.Reconnect, sim.Backoff{Policy: sim.BackoffExponential, Initial: time.Second, Max: 30 * time.Second}},
		{"Telemetry.Every", g.Telemetry.Every, 5 * time.Second},
		{"Telemetry.Jitter", g.Telemetry.Jitter, 500 * time.Millisecond},
		{"Telemetry.Aligned", g.Telemetry.Aligned, false},
		{"Telemetry.Topic", g.Telemetry.Topic.String(), "m2msim/{{group}}/{{id}}/up"},
		{"Telemetry.Size", g.Telemetry.Size, 128},
		{"Telemetry.QoS", g.Telemetry.QoS, byte(1)},
		{"Telemetry.Retain", g.Telemetry.Retain, false},
		{"Commands.Every", g.Commands.Every, 15 * time.Second},
		{"Commands.QoS", g.Commands.QoS, byte(1)},
		{"Commands.ReplyTopic", g.Commands.ReplyTopic.String(), "m2msim/{{group}}/{{id}}/cmd/reply"},
		{"Requests", g.Requests == nil, true},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("Plan().%s = %v, want %v", tc.field, tc.got, tc.want)
		}
	}
}

func TestPlanSeedAndStages(t *testing.T) {
	s, err := Load("examples/capacity-ramp.yaml")
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	p := s.Plan()
	var want []sim.Stage
	for _, n := range []int{1000, 2500, 5000, 7500, 10000} {
		k := strconv.FormatFloat(float64(n)/1000, 'f', -1, 64) + "k"
		want = append(want, sim.Stage{Name: "ramp-" + k, Duration: 5 * time.Second, Devices: n},
			sim.Stage{Name: "hold-" + k, Duration: 15 * time.Second, Devices: n})
	}
	if !s.SeedSet() || p.Seed != 20261129 || p.Duration != 100*time.Second || len(p.Stages) != len(want) {
		t.Fatalf("Plan() = seed %d (set %t), duration %s, %d stages; want 20261129, 100s, 10", p.Seed, s.SeedSet(), p.Duration, len(p.Stages))
	}
	for i, st := range p.Stages {
		if st != want[i] {
			t.Errorf("Plan().Stages[%d] = %+v, want %+v", i, st, want[i])
		}
	}
}

func TestThresholds(t *testing.T) {
	s, err := Load("examples/quickstart.yaml")
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	want := []report.Threshold{
		{Expr: "latency.e2e.p99 < 250ms", Metric: "latency.e2e.p99", Op: "<", Value: 250},
		{Expr: "connect.success > 99.9%", Metric: "connect.success", Op: ">", Value: 99.9},
		{Expr: "messages.lost == 0", Metric: "messages.lost", Op: "==", Value: 0},
	}
	got := s.Thresholds()
	if len(got) != len(want) {
		t.Fatalf("Thresholds() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Thresholds()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		broker   string
		addr     string
		embedded bool
		loopback bool
	}{
		{"embedded", "", true, true},
		{"tcp://127.0.0.1:1883", "127.0.0.1:1883", false, true},
		{"mqtt://localhost:1884", "localhost:1884", false, true},
		{"tcp://[::1]:1883", "[::1]:1883", false, true},
		{"tcp://127.0.0.9:1883", "127.0.0.9:1883", false, true},
		{"tcp://10.0.0.1:1883", "10.0.0.1:1883", false, false},
		{"tcp://broker.example:1883", "broker.example:1883", false, false},
	}
	for _, tc := range tests {
		tg := Target{Broker: tc.broker}
		if tg.Addr() != tc.addr || tg.Embedded() != tc.embedded || tg.Loopback() != tc.loopback {
			t.Errorf("Target{%q} = Addr %q, Embedded %t, Loopback %t; want %q, %t, %t", tc.broker,
				tg.Addr(), tg.Embedded(), tg.Loopback(), tc.addr, tc.embedded, tc.loopback)
		}
	}
}

func TestCredentialsNotRead(t *testing.T) {
	t.Setenv("M2MSIM_TEST_PASSWORD", "hunter2")
	in := head + "  - count: 1\ntarget: {username_env: M2MSIM_TEST_USER, password_env: M2MSIM_TEST_PASSWORD}\n"
	s, err := Parse("t.yaml", []byte(in))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	out, err := json.Marshal(s)
	if err != nil || bytes.Contains(out, []byte("hunter2")) || !bytes.Contains(out, []byte("M2MSIM_TEST_PASSWORD")) {
		t.Errorf("normalised form = %s, %v; want the variable's name and not its value", out, err)
	}
}

func TestProblems(t *testing.T) {
	ps := Problems{
		{File: "f.yaml", Line: 9, Col: 3, Path: "groups[1].count", Msg: "b"},
		{File: "f.yaml", Line: 2, Col: 5, Msg: "a"},
		{File: "f.yaml", Line: 9, Col: 3, Path: "groups[1].count", Msg: "b"},
		{File: "f.yaml", Line: 9, Col: 1, Path: "groups[1]", Msg: "c"},
	}
	want := "f.yaml:2:5: a\nf.yaml:9:1: groups[1]: c\nf.yaml:9:3: groups[1].count: b"
	if got := ps.sorted().Error(); got != want {
		t.Errorf("Problems.sorted().Error() = %q, want %q", got, want)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		text    string
		wantErr bool
	}{
		{"0", 0, "0B", false},
		{"128", 128, "128B", false},
		{"128B", 128, "128B", false},
		{"1KiB", KiB, "1KiB", false},
		{"1536", 1536, "1536B", false},
		{"2MiB", 2 * MiB, "2MiB", false},
		{" 3 GiB ", 3 * GiB, "3GiB", false},
		{"1KB", 0, "", true},
		{"-1B", 0, "", true},
		{"1.5KiB", 0, "", true},
		{"9999999999GiB", 0, "", true},
		{"", 0, "", true},
	}
	for _, tc := range tests {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want || (err == nil && got.String() != tc.text) {
			t.Errorf("ParseByteSize(%q) = %v (%q), %v; want %v (%q), error %t", tc.in, int64(got), got, err, int64(tc.want), tc.text, tc.wantErr)
		}
	}
}

func TestPlanRadioLimits(t *testing.T) {
	s, err := Parse("lora.yaml", []byte(`version: 1
name: lora
duration: 1m
groups:
  - {name: sensors, count: 10, radio: lorawan-sf12, on_busy: drop, queue: 4, downlink: class-a, telemetry: {every: 1m, payload: "{{track}}"}}
  - {name: trackers, count: 10, radio: ltem, telemetry: {every: 1m}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Plan()
	r := p.Groups[0].Radio
	if r == nil || r.DutyCycle != 0.01 || r.MaxPayload != 51 || r.Queue != 4 || !r.Drop || !r.AfterUplink || r.RXDelay != time.Second || r.Channels != 3 || r.Domain != 12 || !r.Capture {
		t.Fatalf("lorawan-sf12 radio limits = %+v, want 1%% duty cycle, 51 B, queue 4, drop, class A", r)
	}
	if air := r.Airtime(20); air < 1810*time.Millisecond || air > 1811*time.Millisecond {
		t.Errorf("SF12 airtime of 20 B = %v, want 1810.4 ms", air)
	}
	if w := p.Groups[1].Wake; w == nil || w.Min != 100*time.Millisecond || w.Max != 300*time.Millisecond || w.Inactivity <= 0 {
		t.Errorf("ltem wake = %+v, want RRC setup 100-300 ms after an inactivity timer", w)
	}
	if p.Groups[0].Wake != nil {
		t.Errorf("lorawan wake = %+v, want none", p.Groups[0].Wake)
	}
	if p.Groups[1].Radio != nil {
		t.Errorf("ltem radio limits = %+v, want none: LTE-M has no duty cycle or airtime model", p.Groups[1].Radio)
	}
	if l, ok := s.Groups[1].Shaped(); !ok || l.Up.Delay == 0 {
		t.Errorf("ltem group link %+v, shaped %v: want the profile's link", l, ok)
	}
}

// Payloads left to their defaults shrink to what the radio carries: the
// token alone under LoRaWAN SF12's 51 B, the 8-byte short token under
// Sigfox's 12 B up and 8 B down. Payloads given are kept.
func TestPlanFitsDefaultPayloads(t *testing.T) {
	s, err := Parse("fit.yaml", []byte(`version: 1
name: fit
duration: 1m
groups:
  - {name: sf12, count: 1, radio: lorawan-sf12, telemetry: {every: 1m}, commands: {every: 1h}}
  - {name: sigfox, count: 1, radio: sigfox, telemetry: {every: 1h}, commands: {every: 6h}, requests: {every: 6h}}
  - {name: given, count: 1, radio: sigfox, telemetry: {every: 1h, payload: "x{{track8}}"}}
  - {name: ltem, count: 1, radio: ltem, telemetry: {every: 1m}}
  - {name: classc, count: 1, radio: lorawan-sf7, downlink: class-c, commands: {every: 1h}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Plan()
	for _, tc := range []struct {
		name string
		tpl  *sim.Template
		want string
	}{
		{"sf12 telemetry", p.Groups[0].Telemetry.Payload, "{{track}}"},
		{"sf12 commands", p.Groups[0].Commands.Payload, "{{track}}"},
		{"sigfox telemetry", p.Groups[1].Telemetry.Payload, "{{track8}}"},
		{"sigfox commands", p.Groups[1].Commands.Payload, "{{track8}}"},
		{"sigfox requests", p.Groups[1].Requests.Payload, "{{track8}}"},
		{"given", p.Groups[2].Telemetry.Payload, "x{{track8}}"},
		{"ltem telemetry", p.Groups[3].Telemetry.Payload, defaultTelemetryPL},
		{"class C commands (RX2: 51 B)", p.Groups[4].Commands.Payload, "{{track}}"},
	} {
		if got := tc.tpl.String(); got != tc.want {
			t.Errorf("%s payload = %q, want %q", tc.name, got, tc.want)
		}
	}
	if r := p.Groups[1].Radio; r == nil || !r.AfterUplink || r.RXDelay != 20*time.Second || r.DownPerDay != 4 || r.MaxDownPayload != 8 {
		t.Errorf("sigfox radio = %+v, want downlink after uplinks, 20 s later, 4 a day, 8 B", r)
	}
	if r := p.Groups[4].Radio; r == nil || r.AfterUplink || r.DownAirtime == nil || r.MaxDownPayload != 51 {
		t.Errorf("class C radio = %+v, want listening always, RX2 airtime and its 51 B cap", r)
	}
}

func TestBackend(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 10s\n"
	tests := []struct {
		name    string
		in      string
		conns   int
		e2e     *sim.Sampling
		printed string
	}{
		{"defaults: all timed, one connection for a small fleet",
			head + "groups: [{count: 100, telemetry: {every: 1s}}]\n", 1, nil, `{"connections":"auto","e2e":"all"}`},
		// 6,000 devices every 250 ms: 24,000 msg/s, 2,000 a connection.
		{"auto sizing from the planned delivery rate",
			head + "groups: [{count: 6000, telemetry: {every: 250ms}}]\n", 12, nil, `{"connections":"auto","e2e":"all"}`},
		{"a sample needs fewer",
			head + "groups: [{count: 6000, telemetry: {every: 250ms}}]\nbackend: {e2e: 10%}\n", 2, &sim.Sampling{Fraction: 0.1}, `{"connections":"auto","e2e":"10%"}`},
		{"replies and requests count too",
			head + "groups: [{count: 2000, commands: {every: 1s}, requests: {every: 1s}}]\nbackend: {e2e: none}\n", 2, &sim.Sampling{}, `{"connections":"auto","e2e":"none"}`},
		{"auto is capped",
			head + "groups: [{count: 1000000, telemetry: {every: 1s}}]\n", 64, nil, `{"connections":"auto","e2e":"all"}`},
		{"given",
			head + "groups: [{count: 10, telemetry: {every: 1s}}]\nbackend: {connections: 8, e2e: all}\n", 8, nil, `{"connections":"8","e2e":"all"}`},
	}
	for _, tt := range tests {
		s, err := Parse("t.yaml", []byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := s.BackendConnections(); got != tt.conns {
			t.Errorf("%s: BackendConnections() = %d, want %d", tt.name, got, tt.conns)
		}
		if got := s.Plan().E2E; !reflect.DeepEqual(got, tt.e2e) {
			t.Errorf("%s: Plan().E2E = %+v, want %+v", tt.name, got, tt.e2e)
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back struct{ Backend json.RawMessage }
		if err := json.Unmarshal(js, &back); err != nil || string(back.Backend) != tt.printed {
			t.Errorf("%s: normalised backend = %s (%v), want %s", tt.name, back.Backend, err, tt.printed)
		}
	}
}
