package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/scenarios"
)

// An --out that cannot be written is refused before the target is opened:
// the scenario's target refuses connections, and the error must be about
// --out, not the target.
func TestRunRefusesUnwritableOut(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	s := writeScenario(t, "version: 1\nname: o\nduration: 1s\ntarget: {broker: tcp://"+freeAddr(t)+"}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n")
	for _, tc := range []struct {
		out, want string
	}{
		{"/proc/x", "run: cannot write to --out /proc/x: mkdir /proc/x: "},
		{filepath.Join(file, "sub"), "run: cannot write to --out " + file + "/sub: mkdir " + file + ": not a directory (nothing was run)"},
		{readOnly, "run: cannot write to --out " + readOnly + ": open " + readOnly + "/.m2msim-probe-"},
	} {
		if tc.out == readOnly && os.Geteuid() == 0 {
			t.Logf("--out %s: skipped as root, who may write to a read-only directory", readOnly)
			continue
		}
		code, stdout, errs := cli(t, t.Context(), "run", s, "--out", tc.out)
		if code != exitUsage || !strings.HasPrefix(errs, "m2msim: "+tc.want) || !strings.HasSuffix(errs, "(nothing was run)\n") {
			t.Errorf("run --out %s = exit %d, %q; want exit 2 and %q...(nothing was run)", tc.out, code, errs, tc.want)
		}
		if stdout != "" {
			t.Errorf("run --out %s printed %q: want nothing done before refusing", tc.out, stdout)
		}
	}
	if entries, _ := os.ReadDir(readOnly); len(entries) != 0 {
		t.Errorf("the probe left %v behind", entries)
	}
}

func TestRunRefusesUnwritableProfile(t *testing.T) {
	s := writeScenario(t, "version: 1\nname: p\nduration: 1s\ntarget: {broker: tcp://"+freeAddr(t)+"}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n")
	for _, flag := range []string{"--cpuprofile", "--memprofile"} {
		code, _, errs := cli(t, t.Context(), "run", s, "--out", t.TempDir(), flag, "/proc/x/p")
		if want := "m2msim: run: " + flag + ": open /proc/x/p: no such file or directory (nothing was run)\n"; code != exitUsage || errs != want {
			t.Errorf("run %s /proc/x/p = exit %d, %q; want exit 2, %q", flag, code, errs, want)
		}
	}
}

func TestSaveResultAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	r := &report.Result{Schema: report.Schema, Status: report.StatusPassed, Seed: 9}
	path, err := saveResult(dir, r)
	if err != nil || path != filepath.Join(dir, "result.json") {
		t.Fatalf("saveResult = %q, %v; want %s/result.json", path, err, dir)
	}
	got, err := report.ReadJSON(path)
	if err != nil || got.Seed != 9 {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("result mode %v, %v; want 0644", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir holds %v, want result.json alone (no temporary files)", entries)
	}
}

// A result that cannot go to --out at the end of a run still appears: the
// summary is printed, the result goes to a temporary file and the error
// says where; when no file can take it, it is printed on stderr.
func TestFinishFallsBack(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Load(writeScenario(t, "version: 1\nname: fb\nseed: 4\nduration: 1s\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	coll := report.NewCollector(report.Info{Name: sc.Name, Seed: 4, Devices: 1})
	out := filepath.Join(file, "out")

	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var stdout, stderr bytes.Buffer
	code := exitCode(finish(t.Context(), sc, coll, outcome{}, func() *report.Shard { return nil }, out, "m2msim run x.yaml --seed 1", nil, &stdout, &stderr), &stderr)
	fallbacks, _ := filepath.Glob(filepath.Join(tmp, "m2msim-result-*.json"))
	if code != exitUsage || len(fallbacks) != 1 {
		t.Fatalf("finish to an unwritable --out = exit %d, fallbacks %v; want exit 2 and one fallback file\n%s", code, fallbacks, stderr.String())
	}
	want := "m2msim: could not write the result to --out " + out + " (mkdir " + file + ": not a directory); it was written to " + fallbacks[0] + " instead\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	if r, err := report.ReadJSON(fallbacks[0]); err != nil || r.Seed != 4 {
		t.Errorf("fallback file: %+v, %v; want the result", r, err)
	}
	if !strings.Contains(stdout.String(), "PASSED") {
		t.Errorf("no summary on stdout:\n%s", stdout.String())
	}

	t.Setenv("TMPDIR", filepath.Join(file, "tmp"))
	stdout.Reset()
	stderr.Reset()
	code = exitCode(finish(t.Context(), sc, coll, outcome{}, func() *report.Shard { return nil }, out, "m2msim run x.yaml --seed 1", nil, &stdout, &stderr), &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "here it is:\n{\n  \"schema\": \""+report.Schema+"\"") ||
		!strings.Contains(stderr.String(), "m2msim: could not write the result to --out "+out+": mkdir "+file+": not a directory\nfallback: ") {
		t.Errorf("finish with no writable file = exit %d\n%s", code, stderr.String())
	}
}
