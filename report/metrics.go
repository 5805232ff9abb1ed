package report

import (
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/m2msim/m2msim/sim"
)

// Metrics is everything a run measured, by name, in a form that merges
// exactly: HDR histograms for every latency and counts for every event
// kind, for the whole run, each stage, each group and each interval. The
// rest of a Result is derived from it (Derive), so a result can be
// re-rendered, cut, compared and merged without the run.
//
// Names are open: a latency or counter a protocol adds appears under its
// own name, and readers that do not know it carry it along.
type Metrics struct {
	// IntervalS is the length of an interval in seconds; interval i
	// covers [i*IntervalS, (i+1)*IntervalS) from the start of the run.
	IntervalS float64 `json:"interval_s"`
	Intervals int     `json:"intervals"`
	// Latency holds each latency metric's distributions, in µs.
	Latency map[string]*LatencyMetric `json:"latency"`
	// Counters counts each event kind (sim.EventKind's names, such as
	// "published" and "delivered"), as "<kind>_timed" the events of
	// devices timed end to end, and under their own names the counts
	// protocols make (sim.Counted; over the run and per interval only).
	Counters map[string]*CounterMetric `json:"counters"`
	// Durations are the summed and largest durations of the kinds that
	// carry one but have no histogram (time on air, sleep, radio holds).
	Durations map[string]*DurationMetric `json:"durations"`
	// Errors counts failures by kind, over the run and per interval.
	Errors ErrorSeries `json:"errors"`
	// ConnectedMax is the most connections live at once.
	ConnectedMax int64 `json:"connected_max"`
	// Gauges are the devices by state and m2msim's own load at the end of
	// each interval; nil when nobody observed them.
	Gauges *Gauges `json:"gauges,omitempty"`
}

// Histogram is one latency distribution: its count, the exact sum (in
// ns, so that sums merge exactly) and maximum (in µs), and the HDR histogram in HdrHistogram's V2 compressed
// encoding, base64 (values in µs, 1 µs to 14 days; 3 significant figures
// for the run and stages, 2 for groups and intervals).
type Histogram struct {
	N     int64  `json:"n"`
	SumNS int64  `json:"sum_ns"`
	MaxUS int64  `json:"max_us"`
	HDR   string `json:"hdr"`
}

// LatencyMetric is one latency's distributions: over the run, per stage
// (by the flow's intended time), per group and per interval (by the time
// the flow finished). A stage, group or interval without samples is null.
type LatencyMetric struct {
	Run       *Histogram   `json:"run"`
	Stages    []*Histogram `json:"stages,omitempty"`
	Groups    []*Histogram `json:"groups,omitempty"`
	Intervals []*Histogram `json:"intervals"`
}

// CounterMetric is one count over the run, per stage, group and
// interval.
type CounterMetric struct {
	Run       int64   `json:"run"`
	Stages    []int64 `json:"stages,omitempty"`
	Groups    []int64 `json:"groups,omitempty"`
	Intervals []int64 `json:"intervals"`
}

// DurationMetric sums durations and keeps their maximum, over the run,
// per group and per interval, in ms.
type DurationMetric struct {
	SumMS         float64   `json:"sum_ms"`
	MaxMS         float64   `json:"max_ms"`
	GroupSumMS    []float64 `json:"group_sum_ms,omitempty"`
	GroupMaxMS    []float64 `json:"group_max_ms,omitempty"`
	IntervalSumMS []float64 `json:"interval_sum_ms"`
	IntervalMaxMS []float64 `json:"interval_max_ms"`
}

// ErrorSeries counts failures by kind over the run and per interval (an
// interval without failures is null).
type ErrorSeries struct {
	Run       ErrorCounts   `json:"run"`
	Intervals []ErrorCounts `json:"intervals"`
}

// Gauges are values at the end of each interval: devices by state (the
// engine's census), m2msim's CPU in percent of one core over the
// interval, the cores it ran on, and its open files against their limit.
// An interval without an observation repeats the previous one.
type Gauges struct {
	Connecting     []int64   `json:"connecting"`
	Connected      []int64   `json:"connected"`
	Sleeping       []int64   `json:"sleeping"`
	Offline        []int64   `json:"offline"`
	CPUPct         []float64 `json:"cpu_pct"`
	OpenFiles      []int64   `json:"open_files"`
	OpenFilesLimit int64     `json:"open_files_limit"`
	// Cores is how many cores m2msim could use.
	Cores int `json:"cores"`
	// Procs is how many of them it ran on (GOMAXPROCS, sized to its load
	// unless --procs fixed it); absent when not observed.
	Procs []int64 `json:"procs,omitempty"`
}

// encodeHist encodes a into a Histogram; nil when it has no samples.
func encodeHist(a *latencyAcc) (*Histogram, error) {
	if a == nil || a.h.TotalCount() == 0 {
		return nil, nil
	}
	b, err := a.h.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode histogram: %w", err)
	}
	return &Histogram{N: a.h.TotalCount(), SumNS: int64(a.sum),
		MaxUS: int64((a.max + time.Microsecond/2) / time.Microsecond), HDR: string(b)}, nil
}

// decode returns the histogram as an accumulator; an empty one for nil.
// digits is the precision to give an empty one.
func (h *Histogram) decode(digits int) (*latencyAcc, error) {
	if h == nil || h.N == 0 {
		return &latencyAcc{h: hdr.NewPacked(histLowest, histHighest, digits)}, nil
	}
	if _, err := base64.StdEncoding.DecodeString(h.HDR); err != nil {
		return nil, fmt.Errorf("histogram: not base64: %w", err)
	}
	p, err := hdr.DecodePacked([]byte(h.HDR))
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	if p.TotalCount() != h.N {
		return nil, fmt.Errorf("histogram: holds %d samples, says n = %d", p.TotalCount(), h.N)
	}
	return &latencyAcc{h: p, sum: time.Duration(h.SumNS),
		max: time.Duration(h.MaxUS) * time.Microsecond}, nil
}

// metricsOf lays the collector's gathered state out as Metrics.
func (c *Collector) metricsOf(st *state, total *stageAcc, n int) (*Metrics, error) {
	stages, groups, series := st.stages, st.groups, st.series
	m := &Metrics{IntervalS: c.iv.Seconds(), Intervals: n, Latency: map[string]*LatencyMetric{},
		Counters: map[string]*CounterMetric{}, Durations: map[string]*DurationMetric{},
		Errors: ErrorSeries{Run: st.errs, Intervals: make([]ErrorCounts, n)}, ConnectedMax: st.connectedMax}
	staged := len(c.info.Stages) > 0
	for k := range numLatency {
		name := c.metricName(k)
		if name == "" {
			continue
		}
		lm, err := encodeLatency(k, stages, total, groups, series, n, staged)
		if err != nil {
			return nil, err
		}
		if lm != nil {
			m.Latency[name] = lm
		}
	}
	for i := range min(n, len(series)) {
		for name, v := range series[i].named {
			cm := m.Counters[name]
			if cm == nil {
				cm = &CounterMetric{Intervals: make([]int64, n)}
				m.Counters[name] = cm
			}
			cm.Run += v
			cm.Intervals[i] = v
		}
	}
	for name, cm := range m.Counters { // only the named ones so far
		if len(groups) > 0 {
			cm.Groups = make([]int64, len(groups))
			for i := range groups {
				cm.Groups[i] = groups[i].named[name]
			}
		}
	}
	for k := 1; k < numKinds; k++ {
		kind := sim.EventKind(k)
		if total.counts[k] > 0 {
			m.Counters[kind.String()] = counterMetric(k, false, stages, groups, series, n, staged)
		}
		if total.timed[k] > 0 {
			m.Counters[kind.String()+"_timed"] = counterMetric(k, true, stages, groups, series, n, staged)
		}
		if durationKinds[k] && total.counts[k] > 0 {
			m.Durations[kind.String()] = durationMetric(k, groups, series, n)
		}
	}
	for i := range min(n, len(series)) {
		if len(series[i].errs) > 0 {
			m.Errors.Intervals[i] = series[i].errs
		}
	}
	m.Gauges = gaugesOf(st.obs, n)
	return m, nil
}

// durationKinds carry a duration but no histogram: their sums and maxima
// are kept.
var durationKinds = [numKinds]bool{sim.Deferred: true, sim.OnAir: true, sim.DownlinkWait: true, sim.Woke: true, sim.Promoted: true}

func encodeLatency(k int, stages []stageAcc, total *stageAcc, groups []groupAcc, series []second, n int, staged bool) (*LatencyMetric, error) {
	run, err := encodeHist(&total.lat[k])
	if err != nil || run == nil {
		return nil, err
	}
	lm := &LatencyMetric{Run: run, Intervals: make([]*Histogram, n)}
	if staged {
		for i := range stages {
			h, err := encodeHist(&stages[i].lat[k])
			if err != nil {
				return nil, err
			}
			lm.Stages = append(lm.Stages, h)
		}
	}
	for i := range groups {
		h, err := encodeHist(groups[i].lat[k])
		if err != nil {
			return nil, err
		}
		lm.Groups = append(lm.Groups, h)
	}
	for i := range min(n, len(series)) {
		if lm.Intervals[i], err = encodeHist(series[i].lat[k]); err != nil {
			return nil, err
		}
	}
	return lm, nil
}

// counterMetric counts events of kind k, or only the timed ones: those
// have no per-interval counts, except the timed telemetry sent.
func counterMetric(k int, timed bool, stages []stageAcc, groups []groupAcc, series []second, n int, staged bool) *CounterMetric {
	pick := func(all, t *[numKinds]int64) int64 {
		if timed {
			return t[k]
		}
		return all[k]
	}
	cm := &CounterMetric{Intervals: make([]int64, n)}
	for i := range stages {
		v := pick(&stages[i].counts, &stages[i].timed)
		cm.Run += v
		if staged {
			cm.Stages = append(cm.Stages, v)
		}
	}
	for i := range groups {
		cm.Groups = append(cm.Groups, pick(&groups[i].counts, &groups[i].timed))
	}
	for i := range min(n, len(series)) {
		switch {
		case !timed:
			cm.Intervals[i] = series[i].kinds[k]
		case k == int(sim.Published):
			cm.Intervals[i] = series[i].timed
		}
	}
	return cm
}

func durationMetric(k int, groups []groupAcc, series []second, n int) *DurationMetric {
	d := &DurationMetric{IntervalSumMS: make([]float64, n), IntervalMaxMS: make([]float64, n)}
	for i := range groups {
		d.GroupSumMS = append(d.GroupSumMS, millis(groups[i].sum[k]))
		d.GroupMaxMS = append(d.GroupMaxMS, millis(groups[i].max[k]))
	}
	var sum, mx time.Duration
	for i := range min(n, len(series)) {
		d.IntervalSumMS[i], d.IntervalMaxMS[i] = millis(series[i].sum[k]), millis(series[i].max[k])
		sum += series[i].sum[k]
		mx = max(mx, series[i].max[k])
	}
	d.SumMS, d.MaxMS = millis(sum), millis(mx)
	return d
}

// gauges lays the observations out per interval, each interval without
// one repeating the one before; nil without any observation.
func gaugesOf(obs []observation, n int) *Gauges {
	if !slices.ContainsFunc(obs, func(o observation) bool { return o.set }) {
		return nil
	}
	g := &Gauges{Connecting: make([]int64, n), Connected: make([]int64, n), Sleeping: make([]int64, n),
		Offline: make([]int64, n), CPUPct: make([]float64, n), OpenFiles: make([]int64, n)}
	if slices.ContainsFunc(obs, func(o observation) bool { return o.procs > 0 }) {
		g.Procs = make([]int64, n)
	}
	var cur observation
	for i := range n {
		if i < len(obs) && obs[i].set {
			cur = obs[i]
			g.OpenFilesLimit = max(g.OpenFilesLimit, cur.limit)
			g.Cores = max(g.Cores, cur.cores)
		}
		g.Connecting[i], g.Connected[i] = cur.census.Connecting, cur.census.Connected
		g.Sleeping[i], g.Offline[i] = cur.census.Sleeping, cur.census.Offline
		g.CPUPct[i], g.OpenFiles[i] = cur.cpuPct, cur.files
		if g.Procs != nil {
			g.Procs[i] = int64(cur.procs)
		}
	}
	return g
}

// names returns m's keys sorted.
func names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
