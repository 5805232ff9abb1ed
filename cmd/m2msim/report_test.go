package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/sim"
)

// writeResult records a small staged run, ackLatency per message, into
// dir/result.json and returns its path.
func writeResult(t *testing.T, dir string, ackLatency time.Duration, started time.Time) string {
	t.Helper()
	th, err := report.ParseThreshold("latency.ack.p99 < 50ms")
	if err != nil {
		t.Fatal(err)
	}
	c := report.NewCollector(report.Info{Name: "r", File: "r.yaml", Devices: 10, Duration: 6 * time.Second, Started: started,
		Stages: []sim.Stage{{Name: "a", Duration: 3 * time.Second, Devices: 5}, {Name: "b", Duration: 3 * time.Second, Devices: 10}},
		Groups: []report.GroupInfo{{Name: "g", Devices: 10}}})
	for i := range 600 {
		at := time.Duration(i) * 10 * time.Millisecond
		lat := ackLatency + time.Duration(i%10)*time.Millisecond
		c.Record(sim.Event{Kind: sim.Published, At: at, Intended: at, Timed: true})
		c.Record(sim.Event{Kind: sim.Acked, At: at + lat, Latency: lat, Intended: at, Timed: true})
		c.Record(sim.Event{Kind: sim.Delivered, At: at + lat, Latency: lat, Intended: at})
	}
	r := c.Result(report.StatusPassed, 6*time.Second)
	report.Evaluate(r, []report.Threshold{th})
	path := filepath.Join(dir, "result.json")
	if err := report.WriteJSON(path, r); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportRendersFromAResult(t *testing.T) {
	path := writeResult(t, t.TempDir(), time.Millisecond, time.Now())
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := exitCode(run(t.Context(), []string{"report", path, "--out", out}, &stdout, &stderr), &stderr); code != 0 {
		t.Fatalf("report exit %d: %s", code, stderr.String())
	}
	for _, name := range []string{"report.html", "junit.xml", "summary.md", "timeseries.csv"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
	if csv, _ := os.ReadFile(filepath.Join(out, "timeseries.csv")); bytes.Count(csv, []byte("\n")) != 8 {
		t.Errorf("timeseries.csv has %d lines, want a header and 7 intervals (the last acks land after 6 s):\n%s", bytes.Count(csv, []byte("\n")), csv)
	}
}

func TestReportCompareExitsOneOnARegression(t *testing.T) {
	start := time.Now()
	base := writeResult(t, t.TempDir(), time.Millisecond, start)
	same := writeResult(t, t.TempDir(), time.Millisecond, start)
	slow := writeResult(t, t.TempDir(), 20*time.Millisecond, start)
	var stdout, stderr bytes.Buffer
	if code := exitCode(run(t.Context(), []string{"report", "compare", base, same}, &stdout, &stderr), &stderr); code != 0 {
		t.Errorf("compare of identical results exit %d, want 0:\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := exitCode(run(t.Context(), []string{"report", "compare", base, slow}, &stdout, &stderr), &stderr); code != 1 {
		t.Errorf("compare against a slower result exit %d, want 1:\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "latency.ack.p99") || !strings.Contains(stdout.String(), "REGRESSED") {
		t.Errorf("compare output does not name the regressed ack p99:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := exitCode(run(t.Context(), []string{"report", "compare", base, slow, "--tolerance", "5000%", "--floor", "1s"}, &stdout, &stderr), &stderr); code != 0 {
		t.Errorf("compare with a wide tolerance exit %d, want 0:\n%s", code, stdout.String())
	}
}

func TestReportMergeAddsTheParts(t *testing.T) {
	start := time.Now()
	a := writeResult(t, t.TempDir(), time.Millisecond, start)
	b := writeResult(t, t.TempDir(), 60*time.Millisecond, start)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	// The whole fails the ack p99 threshold: merge exits 1, as a run
	// does, so a CI job merging shards fails on it.
	if code := exitCode(run(t.Context(), []string{"report", "merge", a, b, "--out", out}, &stdout, &stderr), &stderr); code != exitThreshold {
		t.Fatalf("merge exit %d, want %d: %s", code, exitThreshold, stderr.String())
	}
	r, err := report.ReadJSON(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Messages.Sent != 1200 || r.Devices.Planned != 20 || r.LatencyMS.Ack.Count != 1200 {
		t.Errorf("merged: sent %d, planned %d, ack samples %d; want 1200, 20, 1200", r.Messages.Sent, r.Devices.Planned, r.LatencyMS.Ack.Count)
	}
	if r.Status != report.StatusFailed || r.Thresholds[0].Passed {
		t.Errorf("merged status %s, threshold %+v; want the ack p99 threshold failed on the whole", r.Status, r.Thresholds)
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Errorf("merge wrote no report: %v", err)
	}
	if code := exitCode(run(t.Context(), []string{"report", "merge", a}, &stdout, &stderr), &stderr); code != exitUsage {
		t.Errorf("merge of one result exit %d, want %d", code, exitUsage)
	}
}
