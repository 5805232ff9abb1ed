package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current output")

// goldenResult is a Result for a fixed event sequence over every kind.
func goldenResult(t *testing.T) *Result {
	t.Helper()
	c := NewCollector(Info{
		Name: "golden", File: "scenarios/examples/golden.yaml", Seed: 42, Devices: 100,
		Duration: 40 * time.Second, Stages: testStages,
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	for _, e := range events(3) {
		c.Record(e)
	}
	for i := range 20 {
		at := time.Duration(i) * 2 * time.Second
		c.Record(sim.Event{Kind: sim.CommandSent, At: at, Intended: at})
		c.Record(sim.Event{Kind: sim.CommandReplied, At: at + time.Duration(20+i)*ms, Latency: time.Duration(20+i) * ms, Intended: at})
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
	for i := range 100 {
		c.Record(sim.Event{Kind: sim.Closed, At: 40*time.Second + time.Duration(i)*ms})
	}
	r := c.Result(StatusPassed, 40500*ms)
	var ts []Threshold
	for _, expr := range []string{"latency.e2e.p99 < 250ms", "messages.loss < 1%", "latency.request.p99 < 1s",
		"connect.success >= 99.9%", "errors.total == 0"} {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Fatalf("ParseThreshold(%q): %v", expr, err)
		}
		ts = append(ts, th)
	}
	Evaluate(r, ts)
	return r
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./report -update rewrites it):\n%s", path, got)
	}
}

func TestResultGolden(t *testing.T) {
	b, err := MarshalResult(goldenResult(t))
	if err != nil {
		t.Fatalf("MarshalResult: %v", err)
	}
	golden(t, "result.golden.json", b)
}

func TestSummaryGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSummary(&b, goldenResult(t)); err != nil {
		t.Fatalf("WriteSummary: %v", err)
	}
	golden(t, "summary.golden.txt", b.Bytes())
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
	for _, r := range []*Result{goldenResult(t), odd} {
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
		{"other schema", `{"schema": "m2msim.result/v2", "seed": 1}`, true},
		{"no schema", `{"seed": 1}`, true},
		{"not json", `seed: 1`, false},
		{"wrong type", `{"schema": "m2msim.result/v1", "seed": "one"}`, false},
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
	r, err := UnmarshalResult([]byte(`{"schema": "m2msim.result/v1", "seed": 7, "future": {"x": 1}}`))
	if err != nil || r.Seed != 7 || r.Errors == nil || r.Thresholds == nil {
		t.Errorf("UnmarshalResult(v1 with an unknown field) = %+v, %v, want seed 7 and non-nil maps", r, err)
	}
}
