package render

import (
	"math"
	"slices"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/report/capacity"
)

// Prepare gathers what the reports of r show: its timeline from the
// metrics section (none for a result without one) and, for a staged run,
// the capacity analysis. command is the command line that repeats the run.
func Prepare(r *report.Result, command string) (Input, error) {
	in := Input{Result: r, Command: command}
	if r.Metrics != nil {
		points, err := report.Timeline(r)
		if err != nil {
			return in, err
		}
		in.Points = points
	}
	in.Capacity = capacityOf(r, in.Points)
	return in, nil
}

// capacityOf analyses a staged run: nil without two stages. The analysis
// takes the stages that hold their load (a stage with the devices of the
// one before) when there are at least two, since a ramp's load changes
// under its figures; otherwise every stage.
func capacityOf(r *report.Result, points []report.Point) *Capacity {
	if len(r.Stages) < 2 {
		return nil
	}
	metric := keyMetric(r)
	idx := holdStages(r.Stages)
	ths := parseThresholds(r)
	var stages []capacity.Stage
	for _, i := range idx {
		stages = append(stages, stageFigures(r, i, metric, points, ths))
	}
	slices.SortStableFunc(stages, func(a, b capacity.Stage) int { return a.Devices - b.Devices })
	a := capacity.Analyze(stages, metric)
	c := &Capacity{Metric: metric, Sentences: a.Sentences, KneeIndex: -1, LargestPassing: a.LargestPassing,
		Limiter: a.Limiter.Who, LimiterReason: a.Limiter.Reason}
	if a.Knee.Found {
		c.KneeIndex = a.Knee.Index
	}
	for _, s := range stages {
		c.Rows = append(c.Rows, CapacityRow{Stage: s.Name, Devices: s.Devices, OfferedPerSec: s.OfferedPerSec,
			ThroughputPerSec: s.ThroughputPerSec, P50MS: s.P50MS, P99MS: s.P99MS, ConnectFailPct: s.ConnectFailPct,
			ErrorPct: s.ErrorPct, LossPct: s.LossPct, Passed: s.Passed})
	}
	if u := a.USL; u != nil {
		c.USL = &USLFit{Lambda: u.Lambda, Sigma: u.Sigma, Kappa: u.Kappa, PeakDevices: u.PeakDevices,
			PeakThroughput: u.PeakThroughput, R2: u.R2, Curve: u.Throughput}
	}
	return c
}

// keyMetric is the latency the knee is sought on: end to end when the
// run timed any, else the acknowledgement, else the connect.
func keyMetric(r *report.Result) string {
	switch {
	case r.LatencyMS.E2E.Count > 0:
		return "e2e"
	case r.LatencyMS.Ack.Count > 0:
		return "ack"
	}
	return "connect"
}

// holdStages are the indices of the stages that hold the load of the
// stage before, when there are two or more; else of every stage.
func holdStages(st []report.StageResult) []int {
	var hold, all []int
	for i := range st {
		all = append(all, i)
		if i > 0 && st[i].Devices == st[i-1].Devices {
			hold = append(hold, i)
		}
	}
	if len(hold) >= 2 {
		return hold
	}
	return all
}

func parseThresholds(r *report.Result) []report.Threshold {
	var ts []report.Threshold
	for _, tr := range r.Thresholds {
		if t, err := report.ParseThreshold(tr.Expr); err == nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// stageFigures measures stage i of r for the capacity analysis.
func stageFigures(r *report.Result, i int, metric string, points []report.Point, ths []report.Threshold) capacity.Stage {
	st := r.Stages[i]
	dur := st.EndS - st.StartS
	m := st.Messages
	s := capacity.Stage{Name: st.Name, Devices: st.Devices, LossPct: m.LossPct}
	if dur > 0 {
		s.OfferedPerSec = float64(m.Sent+m.PublishFailures) / dur
		done := float64(m.Acked)
		if done == 0 && m.Timed > 0 {
			done = float64(m.Received) * float64(m.Sent) / float64(m.Timed) // QoS 0: scale the timed sample up
		}
		s.ThroughputPerSec = done / dur
	}
	lat := latencyOf(&st.LatencyMS, metric)
	s.P50MS, s.P99MS = percentile(lat.P50, lat.Count), percentile(lat.P99, lat.Count)
	connected, failed := stageCount(r, "connected", i), stageCount(r, "connect_failed", i)
	if connected+failed > 0 {
		s.ConnectFailPct = 100 * float64(failed) / float64(connected+failed)
	}
	if n := m.Sent + m.PublishFailures; n > 0 {
		s.ErrorPct = 100 * float64(m.PublishFailures) / float64(n)
	}
	s.ScheduleLagP99MS = orZero(percentile(st.LatencyMS.ScheduleLag.P99, st.LatencyMS.ScheduleLag.Count))
	s.BackendLagP99MS = orZero(percentile(st.LatencyMS.BackendLag.P99, st.LatencyMS.BackendLag.Count))
	s.CPUPct, s.OpenFiles, s.OpenFilesLimit = selfOver(points, st.StartS, st.EndS)
	if g := r.Metrics; g != nil && g.Gauges != nil {
		s.Cores = g.Gauges.Cores
	}
	s.Passed = stagePasses(r, i, ths)
	return s
}

// orZero is v, or 0 for NaN (no samples: no lag).
func orZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

func latencyOf(l *report.Latencies, metric string) report.LatencyStats {
	switch metric {
	case "e2e":
		return l.E2E
	case "ack":
		return l.Ack
	}
	return l.Connect
}

// percentile is a judged percentile as a number: +Inf beyond reach, NaN without
// samples.
func percentile(j report.Judged, count int64) float64 {
	switch {
	case j.Beyond:
		return math.Inf(1)
	case count == 0:
		return math.NaN()
	}
	return j.V
}

func stageCount(r *report.Result, name string, i int) int64 {
	if r.Metrics == nil || r.Metrics.Counters[name] == nil {
		return 0
	}
	c := r.Metrics.Counters[name].Stages
	if i < len(c) {
		return c[i]
	}
	return 0
}

// selfOver is m2msim's mean CPU and most open files over the intervals
// ending in (start, end].
func selfOver(points []report.Point, start, end float64) (cpu float64, files, limit int64) {
	var n int
	for _, p := range points {
		if p.T > start && p.T <= end {
			cpu += p.Self.CPUPct
			files, limit = max(files, p.Self.OpenFiles), max(limit, p.Self.OpenFilesMax)
			n++
		}
	}
	if n > 0 {
		cpu /= float64(n)
	}
	return cpu, files, limit
}

// stagePasses judges the thresholds on stage i's own figures.
func stagePasses(r *report.Result, i int, ths []report.Threshold) bool {
	st := r.Stages[i]
	view := *r
	view.Messages, view.Commands, view.Requests, view.LatencyMS = st.Messages, st.Commands, st.Requests, st.LatencyMS
	connected, failed := stageCount(r, "connected", i), stageCount(r, "connect_failed", i)
	view.Connect.SuccessPct = 100
	if connected+failed > 0 {
		view.Connect.SuccessPct = 100 * float64(connected) / float64(connected+failed)
	}
	view.Thresholds, view.Status = nil, report.StatusPassed
	return report.Evaluate(&view, ths)
}
