package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/report"
)

// cli runs the program in-process and returns its exit code and output.
func cli(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := exitCode(run(ctx, args, &out, &errb), &errb)
	return code, out.String(), errb.String()
}

func writeScenario(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readResult(t *testing.T, dir string) *report.Result {
	t.Helper()
	r, err := report.ReadJSON(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatalf("result: %v", err)
	}
	return r
}

func TestHelpAndUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"help"}, exitOK, "m2msim run FILE"},
		{[]string{"run", "--help"}, exitOK, "--duration D"},
		{[]string{"help", "validate"}, exitOK, "file:line:col"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate" (commands: run, report, validate`},
		{[]string{"run"}, exitUsage, "want one scenario FILE"},
		{[]string{"run", "--help"}, exitOK, "--cpuprofile FILE"},
		{[]string{"help", "run"}, exitOK, "3 aborted"},
		{[]string{"help"}, exitOK, "130  interrupted"},
		{[]string{"help", "version"}, exitOK, "revision unknown"},
		{[]string{"validate"}, exitUsage, "one or more scenario files"},
		{[]string{"version"}, exitOK, "m2msim "},
		{[]string{"radios"}, exitOK, "lorawan-sf12"},
		{[]string{"help", "radios"}, exitOK, "sources the numbers come from"},
		{[]string{"radios", "extra"}, exitUsage, "takes no arguments"},
	} {
		code, out, errs := cli(t, t.Context(), tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("m2msim %v = exit %d, %q; want exit %d and %q", tc.args, code, out+errs, tc.code, tc.want)
		}
	}
}

func TestValidateShippedExamples(t *testing.T) {
	files, _ := filepath.Glob("../../scenarios/examples/*.yaml")
	if len(files) < 4 {
		t.Fatalf("found %d shipped examples, want at least 4", len(files))
	}
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		// link.engine: wire examples need root; CI runs as root.
		files = slices.DeleteFunc(files, func(f string) bool {
			b, _ := os.ReadFile(f)
			return strings.Contains(string(b), "engine: wire")
		})
	}
	code, out, errs := cli(t, t.Context(), append([]string{"validate"}, files...)...)
	if code != exitOK || strings.Count(out, ": ok (") != len(files) {
		t.Errorf("validate examples = exit %d\n%s%s", code, out, errs)
	}
}

// --print shows the scenario as the run will use it: defaults filled in,
// including those the radio chooses.
func TestValidatePrintsNormalised(t *testing.T) {
	p := writeScenario(t, "version: 1\nname: tiny\nduration: 5s\ngroups:\n  - count: 3\n    radio: sigfox\n    telemetry: {every: 1h}\n")
	code, out, errs := cli(t, t.Context(), "validate", "--print", p)
	var got struct {
		Name   string
		Groups []struct {
			Downlink  string
			Telemetry struct{ Payload string }
		}
	}
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil {
		t.Fatalf("validate --print = exit %d, %v\n%s%s", code, err, out, errs)
	}
	if got.Name != "tiny" || len(got.Groups) != 1 || got.Groups[0].Downlink != "after-uplink" || got.Groups[0].Telemetry.Payload != "{{track8}}" {
		t.Errorf("validate --print = %+v, want the sigfox defaults (after-uplink, {{track8}})", got)
	}
}

func TestValidateReportsPositionedProblems(t *testing.T) {
	p := writeScenario(t, "version: 1\nname: bad\nduration: 5s\ngroups:\n  - count: 10\n    telemetry:\n      every: 1s\n      qos: 3\n")
	code, _, errs := cli(t, t.Context(), "validate", p)
	want := p + ":8:12: groups[0].telemetry.qos:"
	if code != exitUsage || !strings.Contains(errs, want) {
		t.Errorf("validate bad qos = exit %d, %q; want exit 2 and %q", code, errs, want)
	}
	code, _, errs = cli(t, t.Context(), "run", p)
	if code != exitUsage || !strings.Contains(errs, "nothing was run") {
		t.Errorf("run bad scenario = exit %d, %q; want exit 2, nothing run", code, errs)
	}
}

const embeddedScenario = `version: 1
name: e2e
seed: 11
duration: 3s
drain: 3s
groups:
  - name: meters
    count: 50
    connect: {rate: 1000/s}
    telemetry: {every: 200ms, qos: 1, size: 96B}
    commands: {every: 1s, qos: 1}
    requests: {every: 1s, qos: 1}
thresholds:
  - "connect.success > 99.9%"
  - "messages.lost == 0"
`

func TestRunEmbeddedWritesResult(t *testing.T) {
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, embeddedScenario), "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	r := readResult(t, out)
	if r.Status != report.StatusPassed || r.Seed != 11 {
		t.Errorf("status %q seed %d, want passed and 11", r.Status, r.Seed)
	}
	if r.Devices.ConnectedMax != 50 {
		t.Errorf("connected_max %d, want 50", r.Devices.ConnectedMax)
	}
	// 50 devices x 5/s x 3 s, less the ramp and phase.
	if r.Messages.Sent < 600 || r.Messages.Received != r.Messages.Sent || r.Messages.Lost != 0 {
		t.Errorf("messages %+v: want >= 600 sent, all received", r.Messages)
	}
	if r.LatencyMS.E2E.Count != r.Messages.Received || r.LatencyMS.Ack.Count != r.Messages.Sent {
		t.Errorf("latency counts e2e %d ack %d, want %d each", r.LatencyMS.E2E.Count, r.LatencyMS.Ack.Count, r.Messages.Sent)
	}
	if r.Commands.Sent == 0 || r.Commands.Replied != r.Commands.Sent || r.Requests.Answered != r.Requests.Sent {
		t.Errorf("commands %+v requests %+v: want all answered", r.Commands, r.Requests)
	}
	if !strings.Contains(stdout, "seed 11") || !strings.Contains(stdout, "open files") {
		t.Errorf("stdout lacks the seed or the open-files line:\n%s", stdout)
	}
}

// --procs fixes the cores the run uses, the result says so for every
// interval, and the process gets its GOMAXPROCS back; without it, a run
// whose load fits one core's half comes down to one.
func TestRunProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, embeddedScenario), "--out", out, "--procs", "1")
	if code != exitOK {
		t.Fatalf("run --procs 1 = exit %d\n%s\n%s", code, stdout, errs)
	}
	g := readResult(t, out).Metrics.Gauges
	if g.Cores != 1 || len(g.Procs) == 0 || slices.ContainsFunc(g.Procs, func(p int64) bool { return p != 1 }) {
		t.Errorf("--procs 1: cores %d, procs %v; want 1 throughout", g.Cores, g.Procs)
	}
	if n := runtime.GOMAXPROCS(0); n != before {
		t.Errorf("GOMAXPROCS %d after the run, want %d as before", n, before)
	}
	top := max(2, before) // on one core, give auto a second to come down from
	runtime.GOMAXPROCS(top)
	defer runtime.GOMAXPROCS(before)
	t.Setenv("GOMAXPROCS", "") // empty counts as unset
	out = t.TempDir()
	code, stdout, errs = cli(t, t.Context(), "run", writeScenario(t, embeddedScenario), "--out", out, "--duration", "6s")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	g = readResult(t, out).Metrics.Gauges
	if g.Cores != top || len(g.Procs) == 0 || g.Procs[0] != int64(top) || !slices.Contains(g.Procs, 1) {
		t.Errorf("auto: cores %d, procs %v; want %d, starting at %d and down to 1 for 50 devices", g.Cores, g.Procs, top, top)
	}
}

func TestRunThresholdFailureExitsOne(t *testing.T) {
	out := t.TempDir()
	s := strings.Replace(embeddedScenario, `"messages.lost == 0"`, `"latency.e2e.p99 < 1us"`, 1)
	s = strings.Replace(s, "duration: 3s", "duration: 1s", 1)
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", out)
	if code != exitThreshold {
		t.Fatalf("run with an impossible threshold = exit %d, want 1\n%s%s", code, stdout, errs)
	}
	if r := readResult(t, out); r.Status != report.StatusFailed {
		t.Errorf("status %q, want failed", r.Status)
	}
}

func TestRunInterruptedStillWritesResult(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	code, stdout, errs := cli(t, ctx, "run", writeScenario(t, embeddedScenario), "--out", out, "--duration", "1h")
	if code != exitInterrupted {
		t.Fatalf("interrupted run = exit %d, want 130\n%s%s", code, stdout, errs)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("interrupted run took %v to stop", el)
	}
	r := readResult(t, out)
	if r.Status != report.StatusInterrupted || r.Messages.Sent == 0 || r.Messages.Lost != 0 {
		t.Errorf("status %q messages %+v: want interrupted, nothing lost in the drain", r.Status, r.Messages)
	}
}

func TestRunRefusesPlanOverOpenFilesLimit(t *testing.T) {
	s := strings.Replace(embeddedScenario, "count: 50", "count: 100000", 1)
	code, _, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", t.TempDir())
	if code != exitUsage || !strings.Contains(errs, "open files") {
		t.Errorf("run 100k devices = exit %d, %q; want exit 2 naming the open-files limit", code, errs)
	}
}

func TestExitCodeMapping(t *testing.T) {
	var b bytes.Buffer
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, 0},
		{&exitError{code: exitThreshold, err: errors.New("x")}, 1},
		{errors.New("plain"), exitUsage},
		{&exitError{code: exitInterrupted, err: errSilent}, 130},
		{&exitError{code: exitAborted, err: errors.New("aborted")}, 3},
	} {
		if got := exitCode(tc.err, &b); got != tc.code {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}
