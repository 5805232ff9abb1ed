package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Merge combines results of parts of one run (the shards of a fleet, or
// processes started together) into the result of the whole: histograms
// merge exactly, counts add, intervals align on the parts' start times,
// and the thresholds of the first are judged again on the whole. Every
// part needs its metrics section and the same interval, stages and
// groups.
func Merge(parts ...*Result) (*Result, error) {
	if len(parts) == 0 {
		return nil, errors.New("merge: no results")
	}
	for i, r := range parts {
		if err := compatible(parts[0], r); err != nil {
			return nil, fmt.Errorf("merge: result %d: %w", i+1, err)
		}
	}
	missing, err := checkShards(parts)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	base := slices.MinFunc(parts, func(a, b *Result) int { return a.Started.Compare(b.Started) })
	whole := *base
	whole.Shard, whole.Shards = nil, shardHealth(parts)

	whole.Devices.Planned, whole.Backend.Connections, whole.Backend.E2E = 0, 0, Sample{Fraction: base.Backend.E2E.Fraction}
	whole.Stages = slices.Clone(base.Stages)
	whole.Groups = slices.Clone(base.Groups)
	for i := range whole.Stages {
		whole.Stages[i].Devices = 0
	}
	for i := range whole.Groups {
		whole.Groups[i].Devices, whole.Groups[i].TimedDevices = 0, 0
	}
	iv := secondsDuration(base.Metrics.IntervalS)
	c, err := collectorFor(base)
	if err != nil {
		return nil, err
	}
	for _, r := range parts {
		for _, name := range names(r.Metrics.Latency) {
			c.latencyIndex(name)
		}
	}
	var merged *state
	for _, r := range parts {
		st, err := c.decodeState(r.Metrics, len(r.Stages), len(r.Groups))
		if err != nil {
			return nil, fmt.Errorf("merge: %s: %w", r.Scenario.Name, err)
		}
		offset := int(math.Round(float64(r.Started.Sub(base.Started)) / float64(iv)))
		if offset < 0 || offset > maxReadIntervals {
			return nil, fmt.Errorf("merge: %s started %s after the first: not parts of one run", r.Scenario.Name, r.Started.Sub(base.Started))
		}
		merged = mergeState(merged, st, offset)
		whole.add(r, offset, iv)
	}
	// The whole's collector describes the whole fleet, with every part's
	// latency names in the order registered above.
	cw, err := collectorFor(&whole)
	if err != nil {
		return nil, err
	}
	cw.named.Store(c.named.Load())
	res, err := cw.rejudge(&whole, merged)
	if err == nil && missing != "" {
		res.Warnings = append(slices.Clone(res.Warnings), missing)
	}
	return res, err
}

// compatible says why b cannot be merged with a, if it cannot.
func compatible(a, b *Result) error {
	switch {
	case b.Metrics == nil:
		return ErrNoMetrics
	case !(b.Metrics.IntervalS >= 0.001 && b.Metrics.IntervalS <= 86400):
		return fmt.Errorf("interval %vs is not between 1 ms and a day", b.Metrics.IntervalS)
	case b.Metrics.IntervalS != a.Metrics.IntervalS:
		return fmt.Errorf("interval %vs, want %vs like the first", b.Metrics.IntervalS, a.Metrics.IntervalS)
	case len(b.Stages) != len(a.Stages):
		return fmt.Errorf("%d stages, want %d like the first", len(b.Stages), len(a.Stages))
	case len(b.Groups) != len(a.Groups):
		return fmt.Errorf("%d groups, want %d like the first", len(b.Groups), len(a.Groups))
	}
	for i := range b.Groups {
		if b.Groups[i].Name != a.Groups[i].Name {
			return fmt.Errorf("group %d is %q, want %q like the first", i+1, b.Groups[i].Name, a.Groups[i].Name)
		}
	}
	return nil
}

// add counts part r, which started offset intervals after the whole, into
// the whole's description.
func (w *Result) add(r *Result, offset int, iv time.Duration) {
	w.Devices.Planned += r.Devices.Planned
	w.Backend.Connections += r.Backend.Connections
	w.Backend.E2E.Devices += r.Backend.E2E.Devices
	w.Backend.E2E.Fleet += r.Backend.E2E.Fleet
	for i := range w.Stages {
		w.Stages[i].Devices += r.Stages[i].Devices
	}
	for i := range w.Groups {
		w.Groups[i].Devices += r.Groups[i].Devices
		w.Groups[i].TimedDevices += r.Groups[i].TimedDevices
	}
	w.ElapsedS = max(w.ElapsedS, seconds(time.Duration(offset)*iv)+r.ElapsedS)
	w.Status = worse(w.Status, r.Status)
	w.Metrics = &Metrics{IntervalS: w.Metrics.IntervalS}
}

// worse is the status of a whole with parts of statuses a and b.
func worse(a, b Status) Status {
	rank := map[Status]int{StatusPassed: 0, StatusFailed: 1, StatusInterrupted: 2, StatusAborted: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// mergeState adds b, whose intervals start offset intervals into a's, to
// a (nil: an empty state) and returns a.
func mergeState(a, b *state, offset int) *state {
	if a == nil {
		a = &state{stages: make([]stageAcc, len(b.stages)), groups: make([]groupAcc, len(b.groups)), errs: ErrorCounts{}}
		for i := range a.stages {
			a.stages[i].init()
		}
	}
	for i := range a.stages {
		a.stages[i].merge(&b.stages[i])
	}
	for i := range a.groups {
		a.groups[i].merge(&b.groups[i])
	}
	for k, n := range b.errs {
		a.errs[k] += n
	}
	if n := offset + len(b.series); n > len(a.series) {
		a.series = append(a.series, make([]second, n-len(a.series))...)
	}
	for i := range b.series {
		a.series[offset+i].add(b.series[i])
		a.series[offset+i].fromKinds()
	}
	if n := offset + len(b.obs); len(b.obs) > 0 && n > len(a.obs) {
		a.obs = append(a.obs, make([]observation, n-len(a.obs))...)
	}
	for i, o := range b.obs {
		a.obs[offset+i].add(o)
	}
	// The parts' peaks need not coincide: their sum bounds the whole's.
	a.connectedMax += b.connectedMax
	return a
}

// add sums another part's observation of the same interval into o.
func (o *observation) add(b observation) {
	if !b.set {
		return
	}
	o.set = true
	o.census.Add(b.census)
	o.cpuPct += b.cpuPct
	o.files += b.files
	o.limit += b.limit
	o.cores += b.cores
	o.procs += b.procs
}
