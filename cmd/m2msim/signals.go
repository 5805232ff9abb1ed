package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// interrupt is the cause of a run's context when a signal ended it. A
// second signal escalates it to an abort: the drain is cut short.
type interrupt struct {
	sig       os.Signal
	abort     chan struct{} // closed by the second signal
	abortOnce sync.Once
	saved     atomic.Pointer[string] // where the result went, once written
}

func newInterrupt(sig os.Signal) *interrupt {
	return &interrupt{sig: sig, abort: make(chan struct{})}
}

func (in *interrupt) Error() string { return fmt.Sprintf("interrupted (%v)", in.sig) }

func (in *interrupt) escalate() { in.abortOnce.Do(func() { close(in.abort) }) }

// exitLine is what the third signal prints as the process exits at once.
func (in *interrupt) exitLine() string {
	if p := in.saved.Load(); p != nil {
		return "m2msim: third interrupt: exiting at once (the result was written to " + *p + ")"
	}
	return "m2msim: third interrupt: exiting at once; the result was not written"
}

// interruptOf returns the interrupt that ended ctx, or nil.
func interruptOf(ctx context.Context) *interrupt {
	var in *interrupt
	if errors.As(context.Cause(ctx), &in) {
		return in
	}
	return nil
}

// abortOf returns a channel closed when ctx's interrupt is escalated to
// an abort; nil (never ready) when ctx did not end by an interrupt.
func abortOf(ctx context.Context) <-chan struct{} {
	if in := interruptOf(ctx); in != nil {
		return in.abort
	}
	return nil
}

// watchSignals turns signals into actions on the run: the first cancels
// the run's context with an *interrupt as its cause (the schedule stops,
// in-flight messages drain), the second escalates that interrupt to an
// abort (the drain ends at once), the third calls exit. It returns after
// the third signal or when sigs is closed.
func watchSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, exit func(*interrupt)) {
	var in *interrupt
	n := 0
	for sig := range sigs {
		n++
		switch n {
		case 1:
			in = newInterrupt(sig)
			cancel(in)
		case 2:
			in.escalate()
		default:
			exit(in)
			return
		}
	}
}

// abortGrace is how long Run may take to return after Abort before the
// command writes what the collector has and exits without it.
const abortGrace = 5 * time.Second

// outcome is how a run ended, as the command sees it.
type outcome struct {
	err         error // Run's error
	interrupted bool  // ctx ended before Run returned
	aborted     bool  // the drain was cut short
	hung        bool  // Run had not returned abortGrace after Abort
}

// awaitRun waits for Run's result on done. When ctx ends it calls
// notice(false) and waits on; when ctx's interrupt is escalated it calls
// notice(true) and abort, and waits at most grace more.
func awaitRun(ctx context.Context, done <-chan error, abort func(), grace time.Duration, notice func(aborting bool)) outcome {
	select {
	case err := <-done:
		return outcome{err: err}
	case <-ctx.Done():
	}
	notice(false)
	select {
	case err := <-done:
		return outcome{err: err, interrupted: true}
	case <-abortOf(ctx):
	}
	notice(true)
	abort()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return outcome{err: err, interrupted: true, aborted: true}
	case <-t.C:
		return outcome{interrupted: true, aborted: true, hung: true}
	}
}
