package report

import (
	"math"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// Result returns the run's figures as a Result with the given status,
// for a run that lasted elapsed. Call it once recording has stopped; it
// is safe, but not meaningful, while events are still arriving.
func (c *Collector) Result(status Status, elapsed time.Duration) *Result {
	stages, errs, series := c.gather()
	total := newStageAcc()
	for i := range stages {
		total.merge(&stages[i])
	}
	r := &Result{
		Schema:           Schema,
		Status:           status,
		Seed:             c.info.Seed,
		Scenario:         Scenario{Name: c.info.Name, File: c.info.File},
		Started:          c.started().UTC().Truncate(time.Millisecond),
		ElapsedS:         seconds(elapsed),
		PlannedDurationS: seconds(c.info.Duration),
		Devices:          devicesOf(total, c.info.Devices, c.connectedMax.Load()),
		Messages:         messagesOf(total),
		Commands:         Commands{Sent: total.counts[sim.CommandSent], Replied: total.counts[sim.CommandReplied]},
		Requests:         Requests{Sent: total.counts[sim.RequestSent], Answered: total.counts[sim.RequestAnswered]},
		LatencyMS:        latenciesOf(total),
		Errors:           errs,
		Series:           seriesOf(series, elapsed),
		Thresholds:       []ThresholdResult{},
	}
	if a := r.Devices.Connects + r.Devices.ConnectFailures; a > 0 {
		r.Connect.SuccessPct = round3(100 * float64(r.Devices.Connects) / float64(a))
	}
	r.Stages = c.stageResults(stages)
	r.Groups = c.groupResults()
	return r
}

func newStageAcc() *stageAcc {
	a := &stageAcc{}
	a.init()
	return a
}

// gather merges the shards: per-stage accumulators, error counts and the
// per-second series.
func (c *Collector) gather() ([]stageAcc, ErrorCounts, []second) {
	stages := make([]stageAcc, max(1, len(c.stageEnds)))
	for i := range stages {
		stages[i].init()
	}
	errs := ErrorCounts{}
	var series []second
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for st := range stages {
			sh.mergeStage(st, &stages[st])
		}
		for k, n := range sh.errs {
			errs[k] += n
		}
		if n := len(sh.series); n > len(series) {
			series = append(series, make([]second, n-len(series))...)
		}
		for b, sec := range sh.series {
			series[b].add(sec)
		}
		sh.mu.Unlock()
	}
	return stages, errs, series
}

func (s *second) add(o second) {
	s.sent += o.sent
	s.acked += o.acked
	s.delivered += o.delivered
	s.connDelta += o.connDelta
	s.connects += o.connects
	s.errors += o.errors
}

func (c *Collector) stageResults(stages []stageAcc) []StageResult {
	if len(c.info.Stages) == 0 {
		return nil
	}
	out := make([]StageResult, len(c.info.Stages))
	var start time.Duration
	for i, st := range c.info.Stages {
		out[i] = StageResult{
			Name:      st.Name,
			StartS:    seconds(start),
			EndS:      seconds(c.stageEnds[i]),
			Devices:   st.Devices,
			Messages:  messagesOf(&stages[i]),
			LatencyMS: latenciesOf(&stages[i]),
		}
		start = c.stageEnds[i]
	}
	return out
}

func devicesOf(a *stageAcc, planned int, connectedMax int64) Devices {
	return Devices{
		Planned:         planned,
		ConnectedMax:    connectedMax,
		Connects:        a.counts[sim.Connected],
		ConnectFailures: a.counts[sim.ConnectFailed],
		Disconnects:     a.counts[sim.Disconnected],
		Reconnects:      a.counts[sim.Reconnecting],
		Closed:          a.counts[sim.Closed],
	}
}

func messagesOf(a *stageAcc) Messages {
	m := Messages{
		Sent:            a.counts[sim.Published],
		Acked:           a.counts[sim.Acked],
		Received:        a.counts[sim.Delivered],
		Duplicates:      a.counts[sim.Duplicate],
		PublishFailures: a.counts[sim.PublishFailed],
		Deferred:        a.counts[sim.Deferred],
	}
	m.Lost = max(0, m.Sent-m.Received)
	if m.Sent > 0 {
		m.LossPct = round3(100 * float64(m.Lost) / float64(m.Sent))
	}
	return m
}

func latenciesOf(a *stageAcc) Latencies {
	var l Latencies
	for i := range a.lat {
		*l.byIndex(i) = a.lat[i].stats()
	}
	return l
}

// stats describes the distribution in ms. Percentiles are the histogram's
// bucket tops, capped at the exact maximum.
func (a *latencyAcc) stats() LatencyStats {
	n := a.h.TotalCount()
	if n == 0 {
		return LatencyStats{}
	}
	maxUS := int64((a.max + time.Microsecond/2) / time.Microsecond)
	pct := func(p float64) float64 {
		return float64(min(a.h.ValueAtPercentile(p), maxUS)) / 1000
	}
	return LatencyStats{
		Count: n,
		P50:   pct(50),
		P90:   pct(90),
		P99:   pct(99),
		P999:  pct(99.9),
		Max:   float64(maxUS) / 1000,
		Mean:  round3(float64(a.sum) / float64(n) / float64(time.Millisecond)),
	}
}

// seriesOf lays the merged seconds out as columns, covering at least the
// elapsed time.
func seriesOf(secs []second, elapsed time.Duration) Series {
	n := max(len(secs), int((elapsed+time.Second-1)/time.Second))
	s := Series{
		IntervalS: 1,
		T:         make([]int64, n),
		Sent:      make([]int64, n),
		Acked:     make([]int64, n),
		Delivered: make([]int64, n),
		Connected: make([]int64, n),
		Connects:  make([]int64, n),
		Errors:    make([]int64, n),
	}
	var live int64
	for i := range n {
		var sec second
		if i < len(secs) {
			sec = secs[i]
		}
		live += sec.connDelta
		s.T[i] = int64(i + 1)
		s.Sent[i], s.Acked[i], s.Delivered[i] = sec.sent, sec.acked, sec.delivered
		s.Connected[i], s.Connects[i], s.Errors[i] = live, sec.connects, sec.errors
	}
	return s
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*1000) / 1000
}
