package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// shardedRamp is scenarios/examples/capacity-ramp.yaml scaled down: the
// same steps (10, 25, 50, 75 and 100 % of the fleet), rate, report period
// and QoS, with 800 devices and 1 s ramps held for 3 s. The sent-count
// threshold fails on every shard (about a quarter of the messages each)
// and passes on the whole, so it shows where the thresholds are judged.
// The seed is the scenario's (mosquittoScenario sets it): shards share it.
const shardedRamp = `drain: 5s
backend:
  e2e: 10%%
groups:
  - name: sensors
    count: 800
    connect: {rate: 2000/s}
    telemetry: {every: 250ms, jitter: 25ms, qos: 1, size: 64B}
stages:
  - {name: ramp-80, duration: 1s, devices: 80}
  - {name: hold-80, duration: 3s, devices: 80}
  - {name: ramp-200, duration: 1s, devices: 200}
  - {name: hold-200, duration: 3s, devices: 200}
  - {name: ramp-400, duration: 1s, devices: 400}
  - {name: hold-400, duration: 3s, devices: 400}
  - {name: ramp-600, duration: 1s, devices: 600}
  - {name: hold-600, duration: 3s, devices: 600}
  - {name: ramp-800, duration: 1s, devices: 800}
  - {name: hold-800, duration: 3s, devices: 800}
thresholds:
  - "latency.ack.p99 < 5s"
  - "messages.sent > %d"
`

// runBinary runs the m2msim binary with args and env, bounded by limit.
func runBinary(t *testing.T, limit time.Duration, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, m2msimBinary(t), args...)
	cmd.Env = append(cmd.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("m2msim %v did not finish within %s:\n%s", args, limit, out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("m2msim %v: %v", args, err)
	}
	return code, out.String()
}

// Four shard processes started together with --start-at, merged, give
// the counts of one process running the same fleet, and the thresholds
// are judged on the merged whole.
func TestShardsAgainstMosquittoMergeToTheWhole(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	const minSent = 20000
	file := writeScenario(t, mosquittoScenario(m.Addr(), fmt.Sprintf(shardedRamp, minSent)))
	tmp := t.TempDir()

	wholeDir := filepath.Join(tmp, "whole")
	if code, out := runBinary(t, 90*time.Second, nil, "run", file, "--out", wholeDir, "--web", "off"); code != exitOK {
		t.Fatalf("one process: exit %d\n%s", code, out)
	}
	whole := readResult(t, wholeDir)

	startAt := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	type done struct {
		code int
		out  string
	}
	results := make(chan done, 4)
	var dirs []string
	for i := range 4 {
		dir := filepath.Join(tmp, fmt.Sprintf("shard-%d", i))
		dirs = append(dirs, filepath.Join(dir, "result.json"))
		go func() {
			code, out := runBinary(t, 90*time.Second, []string{"M2MSIM_START_AT=" + startAt},
				"run", file, "--shard", fmt.Sprintf("%d/4", i), "--out", dir, "--web", "off")
			results <- done{code, out}
		}()
	}
	var parts []*report.Result
	for range 4 {
		d := <-results
		// A shard's own figures fail the sent threshold, yet it exits
		// 0: thresholds are judged on the merged whole.
		if d.code != exitOK || !strings.Contains(d.out, "judged on the merged result") {
			t.Errorf("a shard exit %d, want 0 and a note that its thresholds fail on its own:\n%s", d.code, d.out)
		}
	}
	for _, p := range dirs {
		parts = append(parts, readResult(t, filepath.Dir(p)))
	}
	mergedDir := filepath.Join(tmp, "merged")
	code, stdout, errs := cli(t, t.Context(), append(append([]string{"report", "merge"}, dirs...), "--out", mergedDir)...)
	if code != exitOK {
		t.Fatalf("merge: exit %d, want 0 (the whole passes)\n%s%s", code, stdout, errs)
	}
	merged := readResult(t, mergedDir)
	checkShardParts(t, parts)
	checkMergedCounts(t, whole, merged)
	checkMergedLatency(t, parts, merged)
	if len(merged.Shards) != 4 {
		t.Errorf("merged result lists %d shards, want 4", len(merged.Shards))
	}
	if md, err := os.ReadFile(filepath.Join(mergedDir, "summary.md")); err != nil || !strings.Contains(string(md), "Merged from 4 shards") {
		t.Errorf("summary.md (%v) does not list the shards:\n%s", err, md)
	}
	t.Logf("one process: sent %d, ack p99 %.2f ms; 4 shards merged: sent %d, ack p99 %.2f ms; shard lag p99 %v",
		whole.Messages.Sent, whole.LatencyMS.Ack.P99.V, merged.Messages.Sent, merged.LatencyMS.Ack.P99.V, lagP99s(merged))
}

func lagP99s(r *report.Result) []float64 {
	var out []float64
	for _, s := range r.Shards {
		out = append(out, s.ScheduleLagP99)
	}
	return out
}

func checkShardParts(t *testing.T, parts []*report.Result) {
	t.Helper()
	for i, p := range parts {
		switch {
		case p.Shard == nil || p.Shard.Index != i || p.Shard.Count != 4:
			t.Errorf("shard %d's result says shard %+v", i, p.Shard)
		case p.Shard.LateByS > 1:
			t.Errorf("shard %d started %.2fs late", i, p.Shard.LateByS)
		case p.Devices.Planned != 200:
			t.Errorf("shard %d planned %d devices, want 200", i, p.Devices.Planned)
		}
		if p.Thresholds[1].Passed {
			t.Errorf("shard %d passes %q with %d sent", i, p.Thresholds[1].Expr, p.Messages.Sent)
		}
	}
}

func checkMergedCounts(t *testing.T, whole, merged *report.Result) {
	t.Helper()
	if merged.Messages.Sent != whole.Messages.Sent || merged.Messages.Timed != whole.Messages.Timed {
		t.Errorf("merged sent %d (timed %d), one process %d (timed %d): the schedule fixes both",
			merged.Messages.Sent, merged.Messages.Timed, whole.Messages.Sent, whole.Messages.Timed)
	}
	for _, r := range []*report.Result{whole, merged} {
		if r.Messages.Received != r.Messages.Timed || r.Messages.Lost != 0 {
			t.Errorf("received %d of %d timed, lost %d: want none lost", r.Messages.Received, r.Messages.Timed, r.Messages.Lost)
		}
	}
	if merged.Devices.Planned != whole.Devices.Planned || merged.Devices.Connects != whole.Devices.Connects {
		t.Errorf("merged devices %+v, one process %+v", merged.Devices, whole.Devices)
	}
	for i := range whole.Stages {
		if merged.Stages[i].Devices != whole.Stages[i].Devices {
			t.Errorf("stage %s: merged %d devices, one process %d", whole.Stages[i].Name, merged.Stages[i].Devices, whole.Stages[i].Devices)
		}
	}
	if merged.Status != report.StatusPassed || !merged.Thresholds[1].Passed {
		t.Errorf("merged status %s, thresholds %+v: want %q passed on the whole", merged.Status, merged.Thresholds, merged.Thresholds[1].Expr)
	}
}

// checkMergedLatency: the merged ack histogram holds every part's samples
// and its percentiles lie between the parts'.
func checkMergedLatency(t *testing.T, parts []*report.Result, merged *report.Result) {
	t.Helper()
	var n int64
	lo, hi, maxAck := parts[0].LatencyMS.Ack.P99.V, parts[0].LatencyMS.Ack.P99.V, 0.0
	for _, p := range parts {
		a := p.LatencyMS.Ack
		n += a.Count
		lo, hi, maxAck = min(lo, a.P99.V), max(hi, a.P99.V), max(maxAck, a.Max)
	}
	a := merged.LatencyMS.Ack
	if a.Count != n {
		t.Errorf("merged ack count %d, the parts hold %d", a.Count, n)
	}
	if a.P99.V < lo || a.P99.V > hi {
		t.Errorf("merged ack p99 %.3f ms outside the parts' %.3f..%.3f", a.P99.V, lo, hi)
	}
	if a.Max != maxAck {
		t.Errorf("merged ack max %.3f ms, the parts' max %.3f", a.Max, maxAck)
	}
}
