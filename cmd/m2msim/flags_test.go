package main

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Flag errors spell flags --name, suggest the nearest one and say what a
// good value looks like. The whole stderr line is compared.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rn"}, `unknown command "rn" (did you mean "run"?)`},
		{[]string{"vaildate", "x.yaml"}, `unknown command "vaildate" (did you mean "validate"?)`},
		{[]string{"help", "radio"}, `unknown command "radio" (did you mean "radios"?)`},
		{[]string{"frobnicate"}, `unknown command "frobnicate" (commands: run, report, validate, radios, version, help; see: m2msim help)`},
		{[]string{"run", "x.yaml", "--outt", "d"}, "run: unknown flag --outt (did you mean --out?)"},
		{[]string{"run", "x.yaml", "-outt", "d"}, "run: unknown flag --outt (did you mean --out?)"},
		{[]string{"run", "x.yaml", "--durration=5s"}, "run: unknown flag --durration (did you mean --duration?)"},
		{[]string{"run", "x.yaml", "--log", "debug"}, "run: unknown flag --log (did you mean --log-level?)"},
		{[]string{"run", "x.yaml", "--cpuprofil", "f"}, "run: unknown flag --cpuprofil (did you mean --cpuprofile?)"},
		{[]string{"run", "x.yaml", "--verbose"}, "run: unknown flag --verbose (flags: --cpuprofile, --duration, --log-level, --memprofile, --out, --procs, --progress, --seed, --shard, --shards, --start-at, --web, --web-token)"},
		{[]string{"run", "x.yaml", "--duration", "abc"}, `run: --duration: "abc" is not a duration (e.g. 30s, 2m)`},
		{[]string{"run", "x.yaml", "--duration", "10"}, `run: --duration: "10" is not a duration (e.g. 30s, 2m)`},
		{[]string{"run", "x.yaml", "--duration=0s"}, `run: --duration: "0s": want more than 0 (e.g. 30s, 2m)`},
		{[]string{"run", "x.yaml", "--progress", "-1s"}, `run: --progress: "-1s": want 0 or more`},
		{[]string{"run", "x.yaml", "--seed", "-1"}, `run: --seed: "-1" is not a whole number from 0 to 18446744073709551615`},
		{[]string{"run", "x.yaml", "--log-level", "loud"}, `run: --log-level: "loud" is not a level (debug, info, warn or error)`},
		{[]string{"run", "x.yaml", "--procs", "0"}, `run: --procs: "0": want auto or a number of cores from 1 to 4096`},
		{[]string{"run", "x.yaml", "--procs=all"}, `run: --procs: "all": want auto or a number of cores from 1 to 4096`},
		{[]string{"run", "x.yaml", "--out"}, "run: --out needs a value: --out DIR"},
		{[]string{"run", "x.yaml", "--out", "--seed", "1"}, "run: --out needs a value: --out DIR"},
		{[]string{"run", "x.yaml", "--out="}, "run: --out: want a path, got an empty value"},
		{[]string{"run", "x.yaml", "---out", "d"}, `run: bad flag syntax "---out"`},
		{[]string{"run"}, "run: want one scenario FILE, got 0 arguments (see: m2msim help run)"},
		{[]string{"validate", "--prnt", "x.yaml"}, "validate: unknown flag --prnt (did you mean --print?)"},
		{[]string{"radios", "--all"}, "radios: unknown flag --all (this command takes no flags)"},
		{[]string{"run", "x.yaml", "--web", "0.0.0.0:8080"}, "run: --web 0.0.0.0:8080 is not loopback: give viewers a token with --web-token T (or $M2MSIM_WEB_TOKEN), listen on 127.0.0.1, or --web off"},
		{[]string{"run", "x.yaml", "--web", "8080"}, "run: --web 8080: want HOST:PORT (e.g. 127.0.0.1:8080) or off"},
		{[]string{"version", "--short"}, "version: unknown flag --short (this command takes no flags)"},
	} {
		code, out, errs := cli(t, t.Context(), tc.args...)
		want := "m2msim: " + tc.want + "\n"
		if code != exitUsage || errs != want {
			t.Errorf("m2msim %s = exit %d, stderr %q (stdout %q); want exit 2, %q", strings.Join(tc.args, " "), code, errs, out, want)
		}
	}
}

func TestParseRunFlagsForms(t *testing.T) {
	seven := uint64(7)
	for _, tc := range []struct {
		args []string
		want runFlags
		pos  []string
	}{
		{[]string{"s.yaml"}, runFlags{progress: 10 * time.Second, logLevel: slog.LevelWarn, web: loopbackAny}, []string{"s.yaml"}},
		{[]string{"--out", "d", "s.yaml", "--seed=7", "-duration", "2m", "--log-level=debug"},
			runFlags{out: "d", seed: &seven, duration: 2 * time.Minute, progress: 10 * time.Second, logLevel: slog.LevelDebug, web: loopbackAny}, []string{"s.yaml"}},
		{[]string{"s.yaml", "--progress", "0", "--cpuprofile", "c", "--memprofile=m", "--web", "off"},
			runFlags{progress: 0, logLevel: slog.LevelWarn, cpuProfile: "c", memProfile: "m", web: "off"}, []string{"s.yaml"}},
		{[]string{"--", "--out", "-"}, runFlags{progress: 10 * time.Second, logLevel: slog.LevelWarn, web: loopbackAny}, []string{"--out", "-"}},
		{[]string{"s.yaml", "--web=0.0.0.0:8080", "--web-token", "t0ken"},
			runFlags{progress: 10 * time.Second, logLevel: slog.LevelWarn, web: "0.0.0.0:8080", webToken: "t0ken"}, []string{"s.yaml"}},
	} {
		f, pos, err := parseRunFlags(tc.args)
		if err != nil || !reflect.DeepEqual(f, tc.want) || !reflect.DeepEqual(pos, tc.pos) {
			t.Errorf("parseRunFlags(%q) = %+v, %q, %v; want %+v, %q", tc.args, f, pos, err, tc.want, tc.pos)
		}
	}
}

func TestNearest(t *testing.T) {
	flags := []string{"cpuprofile", "duration", "log-level", "memprofile", "out", "progress", "seed"}
	for _, tc := range []struct {
		name string
		want string // "" for no suggestion
	}{
		{"outt", "out"},
		{"ot", "out"},
		{"uot", "out"},
		{"o", ""},
		{"x", ""},
		{"sed", "seed"},
		{"seeds", "seed"},
		{"durtaion", "duration"},
		{"dur", "duration"},
		{"log", "log-level"},
		{"loglevel", "log-level"},
		{"memprof", "memprofile"},
		{"profile", "cpuprofile"},
		{"progres", "progress"},
		{"verbose", ""},
		{"output", "out"},
		{"seedling", "seed"},
	} {
		got, ok := nearest(tc.name, flags)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("nearest(%q) = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}
