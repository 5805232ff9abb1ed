package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/scenarios"
)

// The first signal cancels the run with an interrupt as its cause, the
// second escalates it to an abort, the third exits.
func TestWatchSignalsEscalates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sigs := make(chan os.Signal)
		ctx, cancel := context.WithCancelCause(t.Context())
		exited := make(chan *interrupt, 1)
		returned := make(chan struct{})
		go func() {
			watchSignals(sigs, cancel, func(in *interrupt) { exited <- in })
			close(returned)
		}()

		sigs <- os.Interrupt
		synctest.Wait()
		in := interruptOf(ctx)
		if ctx.Err() == nil || in == nil || in.sig != os.Interrupt {
			t.Fatalf("after one signal: ctx.Err() %v, cause %v; want canceled by an interrupt", ctx.Err(), context.Cause(ctx))
		}
		if isClosed(abortOf(ctx)) {
			t.Fatal("after one signal: abort already closed")
		}

		sigs <- syscall.SIGTERM
		synctest.Wait()
		if !isClosed(abortOf(ctx)) || len(exited) != 0 {
			t.Fatalf("after two signals: abort closed %v, exited %d; want abort closed, no exit", isClosed(abortOf(ctx)), len(exited))
		}

		sigs <- os.Interrupt
		synctest.Wait()
		if got := <-exited; got != in {
			t.Errorf("third signal exited with %v, want the run's interrupt", got)
		}
		if !isClosed(returned) {
			t.Error("watchSignals did not return after the third signal")
		}
	})
}

func TestWatchSignalsReturnsWhenClosed(t *testing.T) {
	sigs := make(chan os.Signal)
	close(sigs)
	watchSignals(sigs, func(error) { t.Error("cancel called") }, func(*interrupt) { t.Error("exit called") })
}

func TestInterruptExitLine(t *testing.T) {
	in := newInterrupt(os.Interrupt)
	if got, want := in.exitLine(), "m2msim: third interrupt: exiting at once; the result was not written"; got != want {
		t.Errorf("exitLine() before the result = %q, want %q", got, want)
	}
	p := "out/x/result.json"
	in.saved.Store(&p)
	if got, want := in.exitLine(), "m2msim: third interrupt: exiting at once (the result was written to out/x/result.json)"; got != want {
		t.Errorf("exitLine() after the result = %q, want %q", got, want)
	}
}

func TestAbortOfPlainCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if interruptOf(ctx) != nil || abortOf(ctx) != nil {
		t.Error("a context canceled without an interrupt reports one")
	}
}

// awaitRun under a fake clock: what each sequence of events yields, and
// when.
func TestAwaitRun(t *testing.T) {
	errRun := errors.New("backend subscribe failed")
	for _, tc := range []struct {
		name string
		// script drives the run: it may interrupt (1), escalate (2) and
		// finish Run (done), with pauses between.
		script  func(in *interrupt, cancel context.CancelCauseFunc, done chan<- error)
		want    outcome
		notices []bool
		took    time.Duration
	}{
		{"run ends", func(_ *interrupt, _ context.CancelCauseFunc, done chan<- error) {
			time.Sleep(time.Minute)
			done <- errRun
		}, outcome{err: errRun}, nil, time.Minute},
		{"interrupted, drain ends", func(in *interrupt, cancel context.CancelCauseFunc, done chan<- error) {
			time.Sleep(time.Minute)
			cancel(in)
			time.Sleep(10 * time.Second)
			done <- nil
		}, outcome{interrupted: true}, []bool{false}, time.Minute + 10*time.Second},
		{"aborted, Run returns", func(in *interrupt, cancel context.CancelCauseFunc, done chan<- error) {
			time.Sleep(time.Minute)
			cancel(in)
			time.Sleep(10 * time.Second)
			in.escalate()
			time.Sleep(100 * time.Millisecond)
			done <- nil
		}, outcome{interrupted: true, aborted: true}, []bool{false, true}, time.Minute + 10100*time.Millisecond},
		{"aborted, Run hangs", func(in *interrupt, cancel context.CancelCauseFunc, _ chan<- error) {
			time.Sleep(time.Minute)
			cancel(in)
			in.escalate()
		}, outcome{interrupted: true, aborted: true, hung: true}, []bool{false, true}, time.Minute + abortGrace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancelCause(t.Context())
				done := make(chan error, 1)
				aborts := 0
				var notices []bool
				go tc.script(newInterrupt(os.Interrupt), cancel, done)
				start := time.Now()
				got := awaitRun(ctx, done, func() { aborts++ }, abortGrace, func(a bool) { notices = append(notices, a) })
				if got != tc.want || time.Since(start) != tc.took {
					t.Errorf("awaitRun = %+v after %v, want %+v after %v", got, time.Since(start), tc.want, tc.took)
				}
				if wantAborts := map[bool]int{true: 1}[tc.want.aborted]; aborts != wantAborts {
					t.Errorf("Abort called %d times, want %d", aborts, wantAborts)
				}
				if !slices.Equal(notices, tc.notices) {
					t.Errorf("notices %v, want %v", notices, tc.notices)
				}
			})
		})
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// How a run ended decides the status in result.json, the exit code and
// the last line; an aborted run stays "aborted" though its thresholds,
// without samples, fail.
func TestFinishStatuses(t *testing.T) {
	sc, err := scenarios.Load(writeScenario(t, "version: 1\nname: st\nseed: 4\nduration: 1s\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\nthresholds:\n  - \"latency.e2e.p99 < 1s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		oc     outcome
		status report.Status
		code   int
		last   string // the end of stderr; "%s" is the result's path
	}{
		{outcome{}, report.StatusFailed, exitThreshold, "m2msim: threshold failed\n"},
		{outcome{interrupted: true}, report.StatusInterrupted, exitInterrupted, "m2msim: interrupted; partial result: %s\n"},
		{outcome{interrupted: true, aborted: true}, report.StatusAborted, exitAborted,
			"m2msim: aborted: the drain was cut short, so messages still in flight count as unfinished; result: %s\n"},
		{outcome{interrupted: true, aborted: true, hung: true}, report.StatusAborted, exitAborted,
			"m2msim: aborted: the engine had not stopped 5s after the abort; the result holds what was recorded until then: %s\n"},
		{outcome{err: errors.New("backend subscribe: refused")}, report.StatusFailed, exitUsage, "m2msim: backend subscribe: refused\n"},
	} {
		out := t.TempDir()
		coll := report.NewCollector(report.Info{Name: sc.Name, Seed: 4, Devices: 1})
		var stdout, stderr bytes.Buffer
		code := exitCode(finish(t.Context(), sc, coll, tc.oc, func() *report.Shard { return nil }, out, "m2msim run x.yaml --seed 1", nil, &stdout, &stderr), &stderr)
		path := filepath.Join(out, "result.json")
		if r := readResult(t, out); r.Status != tc.status || code != tc.code {
			t.Errorf("finish(%+v) = status %q, exit %d; want %q, %d", tc.oc, r.Status, code, tc.status, tc.code)
		}
		if want := strings.ReplaceAll(tc.last, "%s", path); stderr.String() != want {
			t.Errorf("finish(%+v) stderr %q, want %q", tc.oc, stderr.String(), want)
		}
		if !strings.Contains(stdout.String(), strings.ToUpper(string(tc.status))) || !strings.HasSuffix(stdout.String(), "result: "+path+"\n") {
			t.Errorf("finish(%+v) stdout lacks the summary or the result line:\n%s", tc.oc, stdout.String())
		}
	}
}
