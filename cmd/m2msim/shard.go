package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/scenarios"
	"github.com/m2msim/m2msim/sim"
)

// Environment variables a sharded run reads.
const (
	// jobIndexEnv is set by Kubernetes in each pod of an Indexed Job.
	jobIndexEnv = "JOB_COMPLETION_INDEX"
	startAtEnv  = "M2MSIM_START_AT"
)

// maxStartAhead bounds --start-at: a time further ahead is a mistake.
const maxStartAhead = 24 * time.Hour

// shardValue is the --shard I/N flag.
type shardValue struct{ p *sim.Part }

func (v shardValue) String() string {
	if v.p == nil || v.p.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", v.p.Index, v.p.Count)
}

func (v shardValue) Set(s string) error {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	switch {
	case !ok || err1 != nil || err2 != nil:
		return fmt.Errorf("%q is not I/N (shard I of N, I from 0, e.g. 0/4)", s)
	case n < 1:
		return fmt.Errorf("%q: N must be 1 or more", s)
	case i < 0 || i >= n:
		return fmt.Errorf("%q: I counts from 0, so it must be from 0 to %d", s, n-1)
	}
	*v.p = sim.Part{Index: i, Count: n}
	return nil
}

// countValue is a positive whole-number flag.
type countValue struct{ p *int }

func (v countValue) String() string {
	if v.p == nil || *v.p == 0 {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("%q: want a whole number of 1 or more", s)
	}
	*v.p = n
	return nil
}

// timeValue is an RFC 3339 time flag.
type timeValue struct{ p *time.Time }

func (v timeValue) String() string {
	if v.p == nil || v.p.IsZero() {
		return ""
	}
	return v.p.Format(time.RFC3339)
}

func (v timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("%q is not an RFC 3339 time (e.g. 2026-11-30T04:00:00Z)", s)
	}
	*v.p = t
	return nil
}

// resolveShard settles which shard to run from --shard, --shards and
// $JOB_COMPLETION_INDEX; the zero Part runs the whole fleet.
func resolveShard(f runFlags, lookupEnv func(string) (string, bool)) (sim.Part, error) {
	switch {
	case f.shard.Count > 0 && f.shards > 0:
		return sim.Part{}, errors.New("give --shard I/N or --shards N, not both")
	case f.shard.Count > 0:
		return f.shard, nil
	case f.shards == 0:
		return sim.Part{}, nil
	}
	s, ok := lookupEnv(jobIndexEnv)
	if !ok || s == "" {
		return sim.Part{}, fmt.Errorf("--shards %d takes the shard's index from $%s (set by a Kubernetes Indexed Job), which is not set; give --shard I/%d instead", f.shards, jobIndexEnv, f.shards)
	}
	i, err := strconv.Atoi(strings.TrimSpace(s))
	switch {
	case err != nil:
		return sim.Part{}, fmt.Errorf("$%s=%q is not a whole number", jobIndexEnv, s)
	case i < 0 || i >= f.shards:
		return sim.Part{}, fmt.Errorf("$%s=%d: with --shards %d it must be from 0 to %d", jobIndexEnv, i, f.shards, f.shards-1)
	}
	return sim.Part{Index: i, Count: f.shards}, nil
}

// resolveStartAt takes --start-at, or $M2MSIM_START_AT, and refuses a
// time more than a day ahead of now.
func resolveStartAt(f runFlags, now time.Time) (time.Time, error) {
	t := f.startAt
	if t.IsZero() {
		s := os.Getenv(startAtEnv)
		if s == "" {
			return time.Time{}, nil
		}
		if err := (timeValue{&t}).Set(s); err != nil {
			return time.Time{}, fmt.Errorf("$%s: %w", startAtEnv, err)
		}
	}
	if ahead := t.Sub(now); ahead > maxStartAhead {
		return time.Time{}, fmt.Errorf("--start-at %s is %s ahead: at most %s", t.Format(time.RFC3339), ahead.Round(time.Second), maxStartAhead)
	}
	return t, nil
}

// waitStart waits until at (a zero at starts at once) or ctx ends. It
// returns how late the schedule starts: past at already, or woken late.
// A late start is said on w.
func waitStart(ctx context.Context, at time.Time, w io.Writer) (time.Duration, error) {
	if at.IsZero() {
		return 0, nil
	}
	if d := time.Until(at); d > 0 {
		fmt.Fprintf(w, "m2msim: waiting %s for --start-at %s\n", d.Round(time.Millisecond), at.Format(time.RFC3339Nano))
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
	}
	late := time.Since(at)
	// A timer fires a little after its time; only a real slip is news.
	if late > 50*time.Millisecond {
		fmt.Fprintf(w, "m2msim: starting %s late (--start-at %s); the result says so (shard.late_by_s)\n",
			late.Round(time.Millisecond), at.Format(time.RFC3339Nano))
		return late, nil
	}
	return max(late, 0), nil
}

// cpuSeconds is the process's CPU time so far, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// shardInfo describes the shard for its result; nil for a whole run.
func shardInfo(part sim.Part, late time.Duration) *report.Shard {
	if part.Count == 0 {
		return nil
	}
	return &report.Shard{Index: part.Index, Count: part.Count, LateByS: late.Seconds(), CPUS: cpuSeconds()}
}

// runShard is what a run needs to know of its shard.
type runShard struct {
	part    sim.Part
	startAt time.Time
}

// describe says which shard runs, for the start line.
func (sh runShard) describe(plan *sim.Plan) string {
	if sh.part.Count == 0 {
		return ""
	}
	return fmt.Sprintf(" (shard %d of %d; the fleet has %d)", sh.part.Index, sh.part.Count, plan.Devices())
}

// collectorInfo describes the shard's part of the run to its collector:
// its devices, its sample and its share of each stage.
func collectorInfo(sc *scenarios.Scenario, plan *sim.Plan, part sim.Part, backendConns int) report.Info {
	var groups []report.GroupInfo
	for i, g := range plan.Groups {
		lo, hi := part.Range(g.Count)
		groups = append(groups, report.GroupInfo{Name: g.Name, Devices: hi - lo, Timed: part.Timed(plan, i),
			Protocol: g.Protocol, Untimed: g.Untimed})
	}
	stages := plan.Stages
	if !part.Whole() {
		stages = slices.Clone(plan.Stages)
		for i := range stages {
			stages[i].Devices = part.StageDevices(plan, stages[i].Devices)
		}
	}
	return report.Info{Groups: groups, Name: sc.Name, File: sc.File, Seed: plan.Seed,
		Devices: part.Devices(plan), Duration: plan.Duration, Stages: stages, Started: time.Now(),
		BackendConnections: backendConns, E2E: plan.E2E, Thresholds: sc.Thresholds()}
}

// shardPlan is plan cut down to the shard's devices, for estimates of
// what the process will hold.
func shardPlan(plan *sim.Plan, part sim.Part) *sim.Plan {
	if part.Whole() {
		return plan
	}
	p := *plan
	p.Groups = slices.Clone(plan.Groups)
	for i := range p.Groups {
		lo, hi := part.Range(p.Groups[i].Count)
		p.Groups[i].Count = hi - lo
	}
	p.Stages = slices.Clone(plan.Stages)
	for i := range p.Stages {
		p.Stages[i].Devices = part.StageDevices(plan, p.Stages[i].Devices)
	}
	return &p
}

// groupSizes lists the plan's group sizes for a message.
func groupSizes(plan *sim.Plan) string {
	var s []string
	for _, g := range plan.Groups {
		s = append(s, strconv.Itoa(g.Count))
	}
	return strings.Join(s, ", ")
}

// labels are the live view's metric labels: shard="I" for a shard, so
// Prometheus sums the shards of one run.
func (sh runShard) labels() map[string]string {
	if sh.part.Count == 0 {
		return nil
	}
	return map[string]string{"shard": strconv.Itoa(sh.part.Index)}
}
