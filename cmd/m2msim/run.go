package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/scenarios"
	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/web"
	"golang.org/x/term"
)

// runFlags are the run command's options.
type runFlags struct {
	out        string
	outDefault bool // out was not given: out/<scenario name>
	duration   time.Duration
	seed       *uint64
	progress   time.Duration
	logLevel   slog.Level
	cpuProfile string
	memProfile string
	web        string // live view address, or "off"
	webToken   string
	shard      sim.Part  // --shard I/N
	shards     int       // --shards N, I from $JOB_COMPLETION_INDEX
	startAt    time.Time // --start-at
	procs      int       // --procs: 0 for auto
}

func parseRunFlags(args []string) (runFlags, []string, error) {
	f := runFlags{progress: 10 * time.Second, logLevel: slog.LevelWarn, web: loopbackAny, webToken: os.Getenv(webTokenEnv)}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Var(pathValue{&f.out}, "out", "DIR")
	fs.Var(durationValue{d: &f.duration}, "duration", "D")
	fs.Var(durationValue{d: &f.progress, zeroOK: true}, "progress", "D")
	fs.Var(seedValue{&f.seed}, "seed", "N")
	fs.Var(levelValue{&f.logLevel}, "log-level", "L")
	fs.Var(pathValue{&f.cpuProfile}, "cpuprofile", "FILE")
	fs.Var(pathValue{&f.memProfile}, "memprofile", "FILE")
	fs.StringVar(&f.web, "web", f.web, "ADDR")
	fs.StringVar(&f.webToken, "web-token", f.webToken, "TOKEN")
	fs.Var(shardValue{&f.shard}, "shard", "I/N")
	fs.Var(countValue{&f.shards}, "shards", "N")
	fs.Var(timeValue{&f.startAt}, "start-at", "TIME")
	fs.Var(procsValue{&f.procs}, "procs", "N")
	pos, err := parseFlags(fs, args)
	return f, pos, err
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, pos, err := parseRunFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, runHelp)
		return nil
	}
	if err != nil {
		return usageErr("run: %v", err)
	}
	if len(pos) != 1 {
		return usageErr("run: want one scenario FILE, got %d arguments (see: m2msim help run)", len(pos))
	}
	if f.web != webOff {
		err := (web.Options{Addr: f.web, Token: f.webToken}).Check()
		switch {
		case errors.Is(err, web.ErrTokenRequired):
			return usageErr("run: --web %s is not loopback: give viewers a token with --web-token T (or $%s), listen on 127.0.0.1, or --web off", f.web, webTokenEnv)
		case err != nil:
			return usageErr("run: --web %s: want HOST:PORT (e.g. 127.0.0.1:8080) or off", f.web)
		}
	}
	part, err := resolveShard(f, os.LookupEnv)
	if err != nil {
		return usageErr("run: %v", err)
	}
	startAt, err := resolveStartAt(f, time.Now())
	if err != nil {
		return usageErr("run: %v", err)
	}
	sc, err := loadScenario(pos[0], stderr)
	if err != nil {
		return err
	}
	plan := sc.Plan()
	if n := part.Devices(plan); n == 0 && plan.Devices() > 0 {
		return usageErr("run: shard %d of %d has no devices: %s has %d devices in groups of %s; use fewer shards",
			part.Index, part.Count, pos[0], plan.Devices(), groupSizes(plan))
	}
	if f.duration > 0 {
		plan.Duration = f.duration
	}
	switch {
	case f.seed != nil:
		plan.Seed = *f.seed
	case part.Count > 0 && !sc.SeedSet():
		return usageErr("run: shards must share one seed, and %s sets none: set seed: in the scenario or give every shard --seed N", pos[0])
	case !sc.SeedSet():
		plan.Seed = randomSeed()
	}
	if f.out == "" {
		f.out, f.outDefault = filepath.Join("out", sc.Name), true
	}
	if err := checkOut(f.out); err != nil {
		return outError(f.out, f.outDefault, err)
	}
	prof, err := startProfiles(f.cpuProfile, f.memProfile)
	if err != nil {
		return err
	}
	defer func() {
		if err := prof.stop(); err != nil {
			fmt.Fprintf(stderr, "m2msim: %v\n", err)
		}
	}()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: f.logLevel}))
	if err := checkOpenFiles(shardPlan(plan, part), sc.Target.Embedded() && sc.Speaks(scenarios.ProtocolMQTT), stdout); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	return execute(ctx, sc, plan, runShard{part, startAt}, f, log, stdout, stderr)
}

func loadScenario(path string, stderr io.Writer) (*scenarios.Scenario, error) {
	sc, err := scenarios.Load(path)
	var probs scenarios.Problems
	if errors.As(err, &probs) {
		fmt.Fprintln(stderr, probs.Error())
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("%s: %d problem(s); nothing was run", path, len(probs))}
	}
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return sc, nil
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) >> 1
}

// closeGrace bounds how long closing the target (the backend connection,
// the embedded broker) may take after the run.
const closeGrace = 5 * time.Second

// execute runs a loaded plan and writes its result, whatever happens
// after the target is up.
func execute(ctx context.Context, sc *scenarios.Scenario, plan *sim.Plan, sh runShard, f runFlags, log *slog.Logger, stdout, stderr io.Writer) error {
	rt, err := scenarios.OpenShard(ctx, sc, plan.Seed, sh.part, log)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: exitInterrupted, err: errors.New("interrupted while opening the target; nothing was run")}
		}
		return &exitError{code: exitUsage, err: explainTarget(sc.Target, err)}
	}
	coll := report.NewCollector(collectorInfo(sc, plan, sh.part, rt.BackendConnections))
	eng, err := sim.New(plan, sim.Options{Connector: rt.Connector, Receiver: rt.Receiver, Sender: rt.Sender, Recorder: coll, Logger: log,
		Part: sh.part, KernelTimers: true})
	if err != nil {
		closeWithin(rt, closeGrace, log)
		return &exitError{code: exitUsage, err: err}
	}
	fmt.Fprintf(stdout, "m2msim: %s: %d devices%s for %s against %s, seed %d (repeat with --seed %d)\n",
		sc.Name, sh.part.Devices(plan), sh.describe(plan), plan.Duration, targets(sc, rt), plan.Seed, plan.Seed)
	late, err := waitStart(ctx, sh.startAt, stderr)
	if err != nil {
		closeWithin(rt, closeGrace, log)
		return &exitError{code: exitInterrupted, err: errors.New("interrupted while waiting for --start-at; nothing was run")}
	}
	shard := func() *report.Shard { return shardInfo(sh.part, late) }
	view := liveView(coll, f, sh.labels(), log, stdout, stderr)
	stopProgress := startProgress(coll, plan.Duration, f.progress, stdout)
	gov := governProcs(f.procs)
	defer gov.Stop()
	stopObserver := startObserver(coll, eng, gov)
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	stopRestarts := rt.StartRestarts(sc, coll.Elapsed, coll, log)
	oc := awaitRun(ctx, done, eng.Abort, abortGrace, func(aborting bool) { notice(stderr, plan.Drain, aborting) })
	stopRestarts()
	if !oc.hung {
		rt.Settle() // the link engine's own figures, into the result
	}
	stopObserver(!oc.hung)
	stopProgress()
	err = finish(ctx, sc, coll, oc, shard, f.out, repeatCommand(sc.File, f, plan.Seed), view, stdout, stderr)
	if !oc.hung {
		// A hung engine may hold the target: exit without waiting for it.
		closeWithin(rt, closeGrace, log)
	}
	return err
}

// notice tells the user what an interrupt does to the run.
func notice(w io.Writer, drain time.Duration, aborting bool) {
	if aborting {
		fmt.Fprintln(w, "m2msim: second interrupt: cutting the drain short; a third exits at once without a result")
		return
	}
	fmt.Fprintf(w, "m2msim: interrupted: the schedule stopped; waiting up to %s (the drain) for messages in flight; interrupt again to cut it short\n", drain)
}

// finish writes the result of a run that ended as oc says, prints the
// summary and returns the error that sets the exit code.
func finish(ctx context.Context, sc *scenarios.Scenario, coll *report.Collector, oc outcome, shard func() *report.Shard, out, command string, view *web.Server, stdout, stderr io.Writer) error {
	status := report.StatusPassed
	switch {
	case oc.aborted:
		status = report.StatusAborted
	case oc.interrupted || ctx.Err() != nil:
		status = report.StatusInterrupted
	}
	res := coll.Result(status, coll.Snapshot().Elapsed)
	res.Shard = shard()
	passed := report.Evaluate(res, sc.Thresholds())
	if status == report.StatusAborted {
		res.Status = status // Evaluate keeps only "interrupted" over "failed"
	}
	path, werr := saveResult(out, res)
	if in := interruptOf(ctx); in != nil && path != "" {
		in.saved.Store(&path)
	}
	_ = report.WriteSummary(stdout, res)
	var html []byte
	if path != "" {
		html = writeReports(res, path, command, stdout, stderr)
	}
	closeView(view, html)
	switch {
	case path == "":
		resultLost(stderr, res)
		return &exitError{code: exitUsage, err: fmt.Errorf("could not write the result to --out %s: %w", out, werr)}
	case werr != nil:
		return &exitError{code: exitUsage, err: fmt.Errorf("could not write the result to --out %s (%v); it was written to %s instead", out, werr, path)}
	}
	fmt.Fprintf(stdout, "result: %s\n", path)
	switch {
	case oc.err != nil:
		return &exitError{code: exitUsage, err: oc.err}
	case oc.hung:
		return &exitError{code: exitAborted, err: fmt.Errorf("aborted: the engine had not stopped %s after the abort; the result holds what was recorded until then: %s", abortGrace, path)}
	case oc.aborted:
		return &exitError{code: exitAborted, err: fmt.Errorf("aborted: the drain was cut short, so messages still in flight count as unfinished; result: %s", path)}
	case status == report.StatusInterrupted:
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; partial result: %s", path)}
	case !passed && res.Shard != nil:
		// A shard's own figures are a part: the thresholds are judged
		// on the merged whole, by m2msim report merge.
		fmt.Fprintln(stderr, "m2msim: this shard's own figures fail a threshold; thresholds are judged on the merged result (m2msim report merge)")
	case !passed:
		return &exitError{code: exitThreshold, err: errors.New("threshold failed")}
	}
	return nil
}

// closeWithin closes the target, waiting at most d.
func closeWithin(rt *scenarios.Runtime, d time.Duration, log *slog.Logger) {
	done := make(chan error, 1)
	go func() { done <- rt.Close() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("close target", "err", err)
		}
	case <-t.C:
		log.Warn("close target: gave up waiting", "after", d)
	}
}

// startProgress prints a progress line each second on a terminal, or a
// plain line every interval otherwise (CI logs). It returns a function
// that stops it and waits for the printer to finish.
func startProgress(c *report.Collector, total, interval time.Duration, w io.Writer) func() {
	tty := isTerminal(w)
	if tty {
		interval = time.Second
	}
	if interval <= 0 {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
				line := report.ProgressLine(c.Snapshot(), total)
				if tty {
					fmt.Fprint(w, "\r\033[K"+strings.TrimSpace(line))
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() { close(done); <-exited }
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
