package report

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// ErrNoMetrics means a result carries no metrics section (a v1 file, or
// one whose histograms could not be written): it can be read and
// compared, but not merged, re-cut or drawn over time.
var ErrNoMetrics = errors.New("result has no metrics section")

// infoOf recovers the description of the run r measured.
func infoOf(r *Result) Info {
	info := Info{Name: r.Scenario.Name, File: r.Scenario.File, Seed: r.Seed, Devices: r.Devices.Planned,
		Duration: secondsDuration(r.PlannedDurationS), Started: r.Started,
		BackendConnections: r.Backend.Connections}
	for _, st := range r.Stages {
		info.Stages = append(info.Stages, sim.Stage{Name: st.Name, Duration: secondsDuration(st.EndS - st.StartS), Devices: st.Devices})
	}
	for _, g := range r.Groups {
		// A group none of whose devices was timed stays so, rather than
		// fall back to all timed as a result without group figures does.
		info.Groups = append(info.Groups, GroupInfo{Name: g.Name, Devices: g.Devices, Timed: g.TimedDevices,
			Protocol: g.Protocol, Untimed: g.TimedDevices == 0})
	}
	if f := r.Backend.E2E.Fraction; f < 1 {
		info.E2E = &sim.Sampling{Fraction: f}
	}
	return info
}

// secondsDuration is s seconds, clamped to [0, 100 years]: a figure from a
// file may be anything.
func secondsDuration(s float64) time.Duration {
	const most = 100 * 365 * 24 * time.Hour
	if !(s > 0) {
		return 0
	}
	return time.Duration(math.Round(min(s, most.Seconds()) * float64(time.Second)))
}

// collectorFor returns a Collector that describes r's run, with no events,
// to lay states out as r's Results do.
func collectorFor(r *Result) (*Collector, error) {
	if r.Metrics == nil {
		return nil, ErrNoMetrics
	}
	c := newCollector(infoOf(r), 1)
	iv := secondsDuration(r.Metrics.IntervalS)
	if iv < time.Millisecond || iv > 24*time.Hour {
		return nil, fmt.Errorf("metrics: interval_s %v is not between 1 ms and a day", r.Metrics.IntervalS)
	}
	c.iv = iv
	for _, name := range names(r.Metrics.Latency) {
		c.latencyIndex(name) // a protocol's latency: known by name from here on
	}
	return c, nil
}

// Rebuild derives every figure of r again from its metrics section, as
// the run's collector did, keeping r's thresholds (judged again) and
// status. It is how merged and re-cut results get their figures.
func Rebuild(r *Result) (*Result, error) {
	c, err := collectorFor(r)
	if err != nil {
		return nil, err
	}
	st, err := c.decodeState(r.Metrics, len(r.Stages), len(r.Groups))
	if err != nil {
		return nil, err
	}
	return c.rejudge(r, st)
}

// rejudge lays st out for r's run and judges r's thresholds on it.
func (c *Collector) rejudge(r *Result, st *state) (*Result, error) {
	status := r.Status
	if status == StatusFailed {
		status = StatusPassed // the thresholds decide again
	}
	out := c.resultOf(status, secondsDuration(r.ElapsedS), st)
	out.Shard, out.Shards = r.Shard, r.Shards
	var ts []Threshold
	for _, tr := range r.Thresholds {
		t, err := ParseThreshold(tr.Expr)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	Evaluate(out, ts)
	return out, nil
}

// decodeState turns metrics back into a state of the given numbers of
// stages and groups, with c's latency names.
func (c *Collector) decodeState(m *Metrics, stages, groups int) (*state, error) {
	if m.Intervals < 0 || m.Intervals > maxReadIntervals {
		return nil, fmt.Errorf("metrics: %d intervals, want 0 to %d", m.Intervals, maxReadIntervals)
	}
	st := &state{stages: make([]stageAcc, max(1, stages)), groups: make([]groupAcc, groups),
		series: make([]second, m.Intervals), errs: ErrorCounts{}, connectedMax: m.ConnectedMax}
	for i := range st.stages {
		st.stages[i].init()
	}
	for k, v := range m.Errors.Run {
		st.errs[k] = v
	}
	if err := st.decodeCounters(m, stages > 0); err != nil {
		return nil, err
	}
	if err := st.decodeLatencies(m, stages > 0, c.metricName); err != nil {
		return nil, err
	}
	st.decodeDurations(m)
	for i := range st.series {
		if i < len(m.Errors.Intervals) && len(m.Errors.Intervals[i]) > 0 {
			st.series[i].errs = m.Errors.Intervals[i]
		}
		st.series[i].fromKinds()
	}
	st.obs = observationsOf(m.Gauges, m.Intervals)
	return st, nil
}

// maxReadIntervals bounds the intervals of a result file, so that a
// damaged one cannot ask for gigabytes: a run writes at most a few
// thousand (maxIntervals, plus its drain), an open one a second each.
const maxReadIntervals = 100_000

// kindByName maps sim's kind names back to kinds.
var kindByName = func() map[string]sim.EventKind {
	m := map[string]sim.EventKind{}
	for k := 1; k < numKinds; k++ {
		m[sim.EventKind(k).String()] = sim.EventKind(k)
	}
	return m
}()

// at returns v[i], or 0 past its end.
func at[T any](v []T, i int) T {
	var zero T
	if i < 0 || i >= len(v) {
		return zero
	}
	return v[i]
}

func (st *state) decodeCounters(m *Metrics, staged bool) error {
	for name, cm := range m.Counters {
		if cm == nil {
			return fmt.Errorf("metrics: counter %q is null", name)
		}
		base, timed := name, false
		k, ok := kindByName[base]
		if !ok && len(name) > 6 && name[len(name)-6:] == "_timed" {
			base, timed = name[:len(name)-6], true
			k, ok = kindByName[base]
		}
		if !ok {
			st.decodeNamed(base, cm)
			continue
		}
		for i := range st.stages {
			v := cm.Run
			if staged {
				v = at(cm.Stages, i)
			}
			st.stages[i].count(k, timed, v)
		}
		for i := range st.groups {
			if timed {
				st.groups[i].timed[k] = at(cm.Groups, i)
			} else {
				st.groups[i].counts[k] = at(cm.Groups, i)
			}
		}
		for i := range st.series {
			switch {
			case !timed:
				st.series[i].kinds[k] = at(cm.Intervals, i)
			case k == sim.Published:
				st.series[i].timed = at(cm.Intervals, i)
			}
		}
	}
	return nil
}

// decodeNamed takes a count a protocol made (sim.Counted) back per
// interval.
func (st *state) decodeNamed(name string, cm *CounterMetric) {
	if !validMetricName(name) {
		return
	}
	for i := range st.series {
		if v := at(cm.Intervals, i); v != 0 {
			st.series[i].named = addCount(st.series[i].named, name, v)
		}
	}
	for i := range st.groups {
		if v := at(cm.Groups, i); v != 0 {
			st.groups[i].named = addCount(st.groups[i].named, name, v)
		}
	}
}

func (a *stageAcc) count(k sim.EventKind, timed bool, v int64) {
	if timed {
		a.timed[k] = v
	} else {
		a.counts[k] = v
	}
}

func (st *state) decodeLatencies(m *Metrics, staged bool, nameOf func(int) string) error {
	for k := range numLatency {
		name := nameOf(k)
		lm := m.Latency[name]
		if lm == nil || name == "" {
			continue
		}
		for i := range st.stages {
			h := lm.Run
			if staged {
				h = at(lm.Stages, i)
			}
			a, err := h.decode(histDigits)
			if err != nil {
				return fmt.Errorf("metrics: latency %q: %w", name, err)
			}
			st.stages[i].lat[k] = *a
		}
		for i := range st.groups {
			if h := at(lm.Groups, i); h != nil {
				a, err := h.decode(groupDigits)
				if err != nil {
					return fmt.Errorf("metrics: latency %q group %d: %w", name, i, err)
				}
				st.groups[i].lat[k] = a
			}
		}
		for i := range st.series {
			if h := at(lm.Intervals, i); h != nil {
				a, err := h.decode(ivDigits)
				if err != nil {
					return fmt.Errorf("metrics: latency %q interval %d: %w", name, i, err)
				}
				st.series[i].lat[k] = a
			}
		}
	}
	return nil
}

func (st *state) decodeDurations(m *Metrics) {
	for name, d := range m.Durations {
		k, ok := kindByName[name]
		if !ok || d == nil {
			continue
		}
		ms := func(v float64) time.Duration { return time.Duration(math.Round(v * float64(time.Millisecond))) }
		for i := range st.groups {
			st.groups[i].sum[k], st.groups[i].max[k] = ms(at(d.GroupSumMS, i)), ms(at(d.GroupMaxMS, i))
		}
		for i := range st.series {
			st.series[i].sum[k], st.series[i].max[k] = ms(at(d.IntervalSumMS, i)), ms(at(d.IntervalMaxMS, i))
		}
	}
}

// fromKinds sets the interval's series counters from its counts by kind
// and its backend lag from the lag histogram, as Record does.
func (sec *second) fromKinds() {
	n := &sec.kinds
	sec.sent, sec.acked, sec.delivered = n[sim.Published], n[sim.Acked], n[sim.Delivered]
	sec.connects = n[sim.Connected]
	sec.connDelta = n[sim.Connected] - n[sim.Closed] - n[sim.Disconnected]
	sec.errors = n[sim.Disconnected] + n[sim.ConnectFailed] + n[sim.PublishFailed]
	if a := sec.lat[latBackend]; a != nil {
		sec.lagN = a.h.TotalCount()
		sec.lagMax = a.max
		sec.lagSlow = sec.lagN - countAtOrBelow(a, behindP99)
	}
}

// countAtOrBelow counts a's samples of at most d.
func countAtOrBelow(a *latencyAcc, d time.Duration) int64 {
	limit := int64(d / time.Microsecond)
	var n int64
	a.h.ForEachBucket(func(v, c int64) bool {
		if v <= limit {
			n += c
		}
		return true
	})
	return n
}

// observationsOf turns gauges back into one observation per interval.
func observationsOf(g *Gauges, n int) []observation {
	if g == nil {
		return nil
	}
	obs := make([]observation, n)
	for i := range obs {
		obs[i] = observation{set: true, cpuPct: at(g.CPUPct, i), files: at(g.OpenFiles, i), limit: g.OpenFilesLimit, cores: g.Cores,
			procs: int(at(g.Procs, i)), census: sim.Census{Connecting: at(g.Connecting, i), Connected: at(g.Connected, i),
				Sleeping: at(g.Sleeping, i), Offline: at(g.Offline, i)}}
	}
	return obs
}
