package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

func TestShardFlags(t *testing.T) {
	env := func(v string, ok bool) func(string) (string, bool) {
		return func(string) (string, bool) { return v, ok }
	}
	tests := []struct {
		args    []string
		env     func(string) (string, bool)
		want    sim.Part
		wantErr string
	}{
		{[]string{"--shard", "1/4"}, env("", false), sim.Part{Index: 1, Count: 4}, ""},
		{[]string{"--shards", "4"}, env("3", true), sim.Part{Index: 3, Count: 4}, ""},
		{nil, env("2", true), sim.Part{}, ""},
		{[]string{"--shard", "4/4"}, env("", false), sim.Part{}, "from 0 to 3"},
		{[]string{"--shard", "0/0"}, env("", false), sim.Part{}, "N must be 1 or more"},
		{[]string{"--shard", "x"}, env("", false), sim.Part{}, "is not I/N"},
		{[]string{"--shards", "0"}, env("", false), sim.Part{}, "1 or more"},
		{[]string{"--shards", "4"}, env("", false), sim.Part{}, "JOB_COMPLETION_INDEX"},
		{[]string{"--shards", "4"}, env("two", true), sim.Part{}, "not a whole number"},
		{[]string{"--shards", "4"}, env("4", true), sim.Part{}, "from 0 to 3"},
		{[]string{"--shards", "4", "--shard", "1/4"}, env("", false), sim.Part{}, "not both"},
	}
	for _, tt := range tests {
		f, _, err := parseRunFlags(append([]string{"x.yaml"}, tt.args...))
		var got sim.Part
		if err == nil {
			got, err = resolveShard(f, tt.env)
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%v: error %v, want one saying %q", tt.args, err, tt.wantErr)
		case got != tt.want:
			t.Errorf("%v: shard %+v, want %+v", tt.args, got, tt.want)
		}
	}
}

func TestStartAt(t *testing.T) {
	now := time.Now()
	f, _, err := parseRunFlags([]string{"x.yaml", "--start-at", now.Add(25 * time.Hour).Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resolveStartAt(f, now); err == nil || !strings.Contains(err.Error(), "at most 24h") {
		t.Errorf("a start 25h ahead: %v, want it refused", err)
	}
	if _, _, err := parseRunFlags([]string{"x.yaml", "--start-at", "tomorrow"}); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("--start-at tomorrow: %v", err)
	}
	t.Setenv(startAtEnv, "not-a-time")
	if _, err := resolveStartAt(runFlags{}, now); err == nil || !strings.Contains(err.Error(), startAtEnv) {
		t.Errorf("bad $%s: %v", startAtEnv, err)
	}

	var w bytes.Buffer
	late, err := waitStart(t.Context(), now.Add(-2*time.Second), &w)
	if err != nil || late < 2*time.Second || !strings.Contains(w.String(), "late") {
		t.Errorf("a start 2s past: late %v, err %v, stderr %q", late, err, w.String())
	}
	w.Reset()
	at := time.Now().Add(300 * time.Millisecond)
	late, err = waitStart(t.Context(), at, &w)
	if err != nil || time.Now().Before(at) || late > time.Second {
		t.Errorf("a start 300ms ahead: returned at %v, late %v, err %v", time.Until(at), late, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := waitStart(ctx, time.Now().Add(time.Hour), &w); err == nil {
		t.Error("an interrupted wait returned no error")
	}
}

// FuzzShardValue: --shard never panics, and what it accepts is a shard
// that exists and reads back as given.
func FuzzShardValue(f *testing.F) {
	for _, s := range []string{"0/1", "3/4", "4/4", "-1/2", "1/0", "x/y", "1/", "/2", "01/04", "9999999999999999999/1", "1/2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p sim.Part
		if err := (shardValue{&p}).Set(s); err != nil {
			return
		}
		if p.Count < 1 || p.Index < 0 || p.Index >= p.Count {
			t.Fatalf("%q accepted as shard %d of %d", s, p.Index, p.Count)
		}
		var back sim.Part
		if err := (shardValue{&back}).Set((shardValue{&p}).String()); err != nil || back != p {
			t.Fatalf("%q: %+v reads back as %+v (%v)", s, p, back, err)
		}
	})
}

func TestRunShardRefusals(t *testing.T) {
	tiny := writeScenario(t, "version: 1\nname: tiny\nseed: 1\nduration: 1s\ntarget: {broker: embedded}\n"+
		"groups:\n  - {name: g, count: 2, telemetry: {every: 1s}}\n")
	unseeded := writeScenario(t, "version: 1\nname: unseeded\nduration: 1s\ntarget: {broker: embedded}\n"+
		"groups:\n  - {name: g, count: 20, telemetry: {every: 1s}}\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", tiny, "--shard", "0/3", "--out", t.TempDir()}, "shard 0 of 3 has no devices"},
		{[]string{"run", unseeded, "--shard", "1/2", "--out", t.TempDir()}, "shards must share one seed"},
	}
	for _, tt := range tests {
		code, _, errs := cli(t, t.Context(), tt.args...)
		if code != exitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", tt.args, code, errs, exitUsage, tt.want)
		}
	}
}
