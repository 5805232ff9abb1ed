package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/golden"
	"github.com/m2msim/m2msim/sim"
)

// goldenResult is a Result for a fixed event sequence over every kind:
// half the fleet timed, some loss before and after the broker's
// acknowledgement, a backend that kept up, unanswered exchanges and
// connects the end cut short.
func goldenResult(t *testing.T) *Result {
	t.Helper()
	c := NewCollector(Info{
		Name: "golden", File: "scenarios/examples/golden.yaml", Seed: 42, Devices: 100,
		Duration: 40 * time.Second, Stages: testStages,
		Started:            time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Groups:             []GroupInfo{{Name: "meters", Devices: 50, Timed: 25}, {Name: "sensors", Devices: 50, Timed: 25}},
		BackendConnections: 2, E2E: &sim.Sampling{Fraction: 0.5},
	})
	for _, e := range events(3) {
		c.Record(e)
	}
	for i := range 20 {
		at := time.Duration(i) * 2 * time.Second
		c.Record(sim.Event{Kind: sim.CommandSent, At: at, Intended: at})
		if i%7 != 6 {
			c.Record(sim.Event{Kind: sim.CommandReplied, At: at + time.Duration(20+i)*ms, Latency: time.Duration(20+i) * ms, Intended: at})
		}
		c.Record(sim.Event{Kind: sim.RequestSent, At: at + 500*ms, Intended: at + 500*ms})
		lag := time.Duration(i+1) * time.Microsecond
		c.Record(sim.Event{Kind: sim.Published, At: at + 501*ms, Latency: lag, Intended: at + 501*ms - lag})
	}
	c.Record(sim.Event{Kind: sim.RequestAnswered, At: 700 * ms, Latency: 200 * ms, Intended: 500 * ms})
	c.Record(sim.Event{Kind: sim.Duplicate, At: 15 * time.Second, Intended: 15 * time.Second})
	c.Record(sim.Event{Kind: sim.Disconnected, At: 12 * time.Second, Err: "reset"})
	c.Record(sim.Event{Kind: sim.Reconnecting, At: 12 * time.Second})
	c.Record(sim.Event{Kind: sim.ConnectFailed, At: 13 * time.Second, Err: "refused"})
	c.Record(sim.Event{Kind: sim.Connected, At: 14 * time.Second, Latency: 900 * ms})
	for i := range 3 {
		c.Record(sim.Event{Kind: sim.ConnectUnfinished, At: 40*time.Second + time.Duration(i)*ms})
	}
	for i := range 100 {
		c.Record(sim.Event{Kind: sim.Closed, At: 40*time.Second + time.Duration(i)*ms})
	}
	r := c.Result(StatusPassed, 40500*ms)
	evaluateExprs(t, r, "latency.e2e.p99 < 250ms", "messages.loss < 1%", "latency.request.p99 < 1s",
		"connect.success >= 99.9%", "errors.total == 0", "commands.unanswered == 0", "latency.backend_lag.p99 < 10ms")
	return r
}

// kneeResult is a run past the knee: the broker acknowledged every
// message, a backend on one connection fell behind and 57.5 % of the
// messages never reached it; commands to sleeping devices went
// unanswered, the backend could not send some, and the run was cut short
// while connects were under way.
func kneeResult(t *testing.T) *Result {
	t.Helper()
	c := NewCollector(Info{
		Name: "knee", Seed: 7, Devices: 270, Duration: 20 * time.Second,
		Stages:  []sim.Stage{{Name: "ramp", Duration: 10 * time.Second, Devices: 270}, {Name: "hold", Duration: 10 * time.Second, Devices: 270}},
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), BackendConnections: 1,
		Groups: []GroupInfo{{Name: "psm", Devices: 270, Timed: 270}},
	})
	for i := range 270 {
		c.Record(sim.Event{Kind: sim.Connected, At: time.Duration(i) * 30 * ms, Latency: 5 * ms})
	}
	for range 37 {
		c.Record(sim.Event{Kind: sim.ConnectUnfinished, At: 21 * time.Second})
	}
	for i := range 2000 {
		at := time.Duration(i) * 10 * ms
		c.Record(sim.Event{Kind: sim.Published, At: at, Intended: at, Timed: true})
		c.Record(sim.Event{Kind: sim.Acked, At: at + 2*ms, Latency: 2 * ms, Intended: at, Timed: true})
		if i%40 >= 17 { // 23 of every 40 lost: 57.5 %
			continue
		}
		// The backend falls further behind as the load ramps.
		lag := time.Duration(i) * time.Millisecond
		c.Record(sim.Event{Kind: sim.BackendLag, At: at + 3*ms + lag, Latency: lag})
		c.Record(sim.Event{Kind: sim.Delivered, At: at + 3*ms + lag, Latency: 3 * ms, Intended: at})
	}
	for i := range 270 {
		at := time.Duration(i) * 70 * ms
		c.Record(sim.Event{Kind: sim.CommandSent, At: at, Intended: at})
		if i%270 < 158 {
			c.Record(sim.Event{Kind: sim.CommandReplied, At: at + 4*time.Second, Latency: 4 * time.Second, Intended: at})
		}
	}
	for range 12 {
		c.Record(sim.Event{Kind: sim.PublishFailed, At: 15 * time.Second, Err: "backend_busy"})
	}
	r := c.Result(StatusAborted, 21*time.Second)
	evaluateExprs(t, r, "latency.e2e.p99 < 100ms", "latency.e2e.p50 < 100ms", "messages.loss < 1%",
		"messages.lost_after_ack == 0", "commands.unanswered == 0", "latency.backend_lag.p99 < 100ms", "connect.unfinished == 0")
	return r
}

// evaluateExprs checks the thresholds exprs on r.
func evaluateExprs(t *testing.T, r *Result, exprs ...string) {
	t.Helper()
	var ts []Threshold
	for _, expr := range exprs {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Fatalf("ParseThreshold(%q): %v", expr, err)
		}
		ts = append(ts, th)
	}
	Evaluate(r, ts)
}

// goldens are the results kept as golden files, by name.
var goldens = []struct {
	name   string
	result func(t *testing.T) *Result
}{{"", goldenResult}, {"-knee", kneeResult}}

func TestResultGolden(t *testing.T) {
	for _, g := range goldens {
		b, err := MarshalResult(g.result(t))
		if err != nil {
			t.Fatalf("MarshalResult: %v", err)
		}
		golden.Check(t, "result"+g.name+".golden.json", b)
	}
}

func TestSummaryGolden(t *testing.T) {
	for _, g := range goldens {
		var b bytes.Buffer
		if err := WriteSummary(&b, g.result(t)); err != nil {
			t.Fatalf("WriteSummary: %v", err)
		}
		golden.Check(t, "summary"+g.name+".golden.txt", b.Bytes())
	}
}

func TestSummaryEmpty(t *testing.T) {
	r := NewCollector(Info{Name: "empty"}).Result(StatusInterrupted, 1500*ms)
	var b bytes.Buffer
	if err := WriteSummary(&b, r); err != nil {
		t.Fatalf("WriteSummary: %v", err)
	}
	for _, want := range []string{"m2msim empty  INTERRUPTED\n", "ran 1.5s\n", "errors    none\n", "(no samples)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteSummary(empty result) = %q, want it to contain %q", b.String(), want)
		}
	}
	for _, absent := range []string{"commands", "requests", "stage", "thresholds"} {
		if strings.Contains(b.String(), absent) {
			t.Errorf("WriteSummary(empty result) = %q, want no %q section", b.String(), absent)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.ErrUnsupported }

func TestSummaryWriteError(t *testing.T) {
	if err := WriteSummary(failingWriter{}, goldenResult(t)); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("WriteSummary(failing writer) = %v, want it to wrap %v", err, errors.ErrUnsupported)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	// Number arrays are written on one line; names that look like them
	// must come back unchanged.
	odd := NewCollector(Info{Name: "odd [\n1,  2 ]", File: "a[1, 2].yaml"}).Result(StatusInterrupted, 0)
	// The knee's percentiles beyond reach are written as null.
	for _, r := range []*Result{goldenResult(t), kneeResult(t), odd} {
		path := filepath.Join(t.TempDir(), "new", "dir", "result.json")
		if err := WriteJSON(path, r); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		got, err := ReadJSON(path)
		if err != nil {
			t.Fatalf("ReadJSON: %v", err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("ReadJSON(WriteJSON(r)) =\n%+v, want\n%+v", got, r)
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("WriteJSON left %d files in its directory, want only result.json", len(entries))
		}
	}
}

func TestWriteJSONReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := goldenResult(t)
	if err := WriteJSON(path, r); err != nil {
		t.Fatalf("WriteJSON over an existing file: %v", err)
	}
	if got, err := ReadJSON(path); err != nil || got.Seed != 42 {
		t.Errorf("ReadJSON after WriteJSON over an old file = %v, %v, want seed 42", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("WriteJSON file mode = %v, %v, want 0644", fi.Mode(), err)
	}
}

func TestWriteJSONError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A path under a regular file cannot be created.
	if err := WriteJSON(filepath.Join(file, "result.json"), goldenResult(t)); err == nil {
		t.Errorf("WriteJSON under a regular file = nil, want an error")
	}
}

func TestReadJSONErrors(t *testing.T) {
	tests := []struct {
		name, content string
		wantSchema    bool // error wraps ErrUnknownSchema
	}{
		{"other schema", `{"schema": "m2msim.result/v3", "seed": 1}`, true},
		{"no schema", `{"seed": 1}`, true},
		{"not json", `seed: 1`, false},
		{"wrong type", `{"schema": "m2msim.result/v2", "seed": "one"}`, false},
		{"percentile not a number", `{"schema": "m2msim.result/v2", "latency_ms": {"e2e": {"p99": "fast"}}}`, false},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "result.json")
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadJSON(path)
		if err == nil || errors.Is(err, ErrUnknownSchema) != tt.wantSchema {
			t.Errorf("ReadJSON(%s) = %v, %v, want an error (unknown schema: %v)", tt.name, r, err, tt.wantSchema)
		}
	}
	if _, err := ReadJSON(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadJSON(missing file) = %v, want it to wrap os.ErrNotExist", err)
	}
}

func TestReadJSONIgnoresNewFields(t *testing.T) {
	r, err := UnmarshalResult([]byte(`{"schema": "m2msim.result/v2", "seed": 7, "future": {"x": 1}}`))
	if err != nil || r.Seed != 7 || r.Errors == nil || r.Thresholds == nil || r.Warnings == nil {
		t.Errorf("UnmarshalResult(v2 with an unknown field) = %+v, %v, want seed 7 and non-nil maps", r, err)
	}
}

// A v1 result (testdata/result.v1.json, written before loss was judged
// over the timed messages) reads as a v2 one.
func TestReadJSONV1(t *testing.T) {
	r, err := ReadJSON(filepath.Join("testdata", "result.v1.json"))
	if err != nil {
		t.Fatalf("ReadJSON(v1): %v", err)
	}
	m := r.Messages
	if r.Schema != Schema || m.Sent != 4020 || m.Timed != 4020 || m.Lost != 148 || m.LossPct != 3.682 {
		t.Errorf("ReadJSON(v1) schema %q, messages %+v, want %q and every message sent timed", r.Schema, m, Schema)
	}
	if r.Stages[1].Messages.Timed != r.Stages[1].Messages.Sent || r.Stages[1].Messages.Sent != 2010 {
		t.Errorf("ReadJSON(v1) stage %+v, want every message sent timed", r.Stages[1].Messages)
	}
	if r.Commands.Unanswered != 0 || r.Requests.Unanswered != 19 {
		t.Errorf("ReadJSON(v1) commands %+v, requests %+v, want 0 and 19 unanswered", r.Commands, r.Requests)
	}
	if e := r.LatencyMS.E2E; e.P99 != reached(20.575) || e.P999 != reached(49.503) || e.Missing != 0 {
		t.Errorf("ReadJSON(v1) e2e = %+v, want the percentiles as written", e)
	}
	want := Backend{E2E: Sample{Fraction: 1, Devices: 100, Fleet: 100}}
	if r.Backend != want || r.Warnings == nil || len(r.Warnings) != 0 {
		t.Errorf("ReadJSON(v1) backend %+v, warnings %#v, want %+v and none", r.Backend, r.Warnings, want)
	}
	if th := r.Thresholds[0]; th.Actual != reached(20.575) || !th.Passed {
		t.Errorf("ReadJSON(v1) threshold %+v, want actual 20.575, passed", th)
	}
	var b bytes.Buffer
	if err := WriteSummary(&b, r); err != nil {
		t.Fatalf("WriteSummary(v1): %v", err)
	}
	for _, line := range []string{
		"lost      148 of 4020 timed (3.682%): 148 not attributed (a result from before attribution).\n",
		"backend   timed end to end: all 100 devices; lag not measured\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("WriteSummary(v1) =\n%s\nwant the line %q", b.String(), line)
		}
	}
}
