package report

import (
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/m2msim/m2msim/sim"
)

// Result returns the run's figures as a Result with the given status,
// for a run that lasted elapsed. Call it once recording has stopped; it
// is safe, but not meaningful, while events are still arriving.
func (c *Collector) Result(status Status, elapsed time.Duration) *Result {
	stages, errs, series := c.gather()
	obs, _ := c.observations()
	st := &state{stages: stages, groups: c.gatherGroups(), series: series, errs: errs, obs: obs,
		connectedMax: c.connectedMax.Load()}
	return c.resultOf(status, elapsed, st)
}

// state is everything a run measured, merged over the shards: what a
// Result is made of, and what a result's Metrics decode to.
type state struct {
	stages       []stageAcc // one per stage; one in all without stages
	groups       []groupAcc // one per Info.Groups
	series       []second   // by interval
	errs         ErrorCounts
	obs          []observation // by interval; unset where none was taken
	connectedMax int64
	// summaryOnly leaves the series and the metrics out of the Result:
	// the live view's figures, once a second.
	summaryOnly bool
}

// resultOf lays st out as a Result for the run c describes.
func (c *Collector) resultOf(status Status, elapsed time.Duration, st *state) *Result {
	total := newStageAcc()
	for i := range st.stages {
		total.merge(&st.stages[i])
	}
	r := &Result{
		Schema:           Schema,
		Status:           status,
		Seed:             c.info.Seed,
		Scenario:         Scenario{Name: c.info.Name, File: c.info.File},
		Started:          c.started().UTC().Truncate(time.Millisecond),
		ElapsedS:         seconds(elapsed),
		PlannedDurationS: seconds(c.info.Duration),
		Devices:          devicesOf(total, c.info.Devices, st.connectedMax),
		Messages:         messagesOf(&total.counts, &total.timed),
		Commands:         commandsOf(&total.counts),
		Requests:         requestsOf(&total.counts),
		LatencyMS:        latenciesOf(total),
		Errors:           st.errs,
		Series:           seriesOf(st.series, elapsed, c.iv),
		Thresholds:       []ThresholdResult{},
	}
	if a := r.Devices.Connects + r.Devices.ConnectFailures; a > 0 {
		r.Connect.SuccessPct = round3(100 * float64(r.Devices.Connects) / float64(a))
	}
	r.Backend = Backend{Connections: c.info.BackendConnections, E2E: c.sample(), Behind: behind(r.LatencyMS.BackendLag)}
	if len(st.groups) == 1 && len(c.info.Groups) == 1 && !c.shards[0].groupLat {
		st.groups[0].lat = total.latencies() // the one group's are the run's
	}
	r.Stages = c.stageResults(st.stages)
	r.Groups = c.groupResults(st.groups)
	r.Protocols = c.protocolResults(st.groups)
	if st.summaryOnly {
		return r
	}
	m, err := c.metricsOf(st, total, len(r.Series.T))
	r.Metrics = m
	r.Warnings = warnings(r)
	if err != nil {
		r.Warnings = append(r.Warnings, "the histograms could not be kept ("+err.Error()+"): this result cannot be merged or re-cut")
	}
	return r
}

// latencies returns copies of a's distributions.
func (a *stageAcc) latencies() [numLatency]*latencyAcc {
	var out [numLatency]*latencyAcc
	for k := range a.lat {
		if a.lat[k].h.TotalCount() > 0 {
			out[k] = &latencyAcc{h: a.lat[k].h.Clone(), sum: a.lat[k].sum, max: a.lat[k].max}
		}
	}
	return out
}

func newStageAcc() *stageAcc {
	a := &stageAcc{}
	a.init()
	return a
}

// gatherStages merges the shards' stage accumulators and error counts.
func (c *Collector) gatherStages() ([]stageAcc, ErrorCounts) {
	stages := make([]stageAcc, max(1, len(c.stageEnds)))
	for i := range stages {
		stages[i].init()
	}
	errs := ErrorCounts{}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for st := range stages {
			sh.mergeStage(st, &stages[st])
		}
		for k, n := range sh.errs {
			errs[k] += n
		}
		sh.mu.Unlock()
	}
	return stages, errs
}

// gather merges the shards: per-stage accumulators, error counts and the
// series.
func (c *Collector) gather() ([]stageAcc, ErrorCounts, []second) {
	stages, errs := c.gatherStages()
	var n int
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n = max(n, len(sh.series))
		sh.mu.Unlock()
	}
	if n == 0 {
		return stages, errs, nil
	}
	series, _ := c.gatherRange(0, n-1)
	return stages, errs, series
}

func (s *second) add(o second) {
	s.sent += o.sent
	s.timed += o.timed
	s.acked += o.acked
	s.delivered += o.delivered
	s.connDelta += o.connDelta
	s.connects += o.connects
	s.errors += o.errors
	s.lagN += o.lagN
	s.lagSlow += o.lagSlow
	s.lagMax = max(s.lagMax, o.lagMax)
	for k := range s.kinds {
		s.kinds[k] += o.kinds[k]
		s.sum[k] += o.sum[k]
		s.max[k] = max(s.max[k], o.max[k])
	}
	for k, n := range o.named {
		s.named = addCount(s.named, k, n)
	}
	if len(o.errs) > 0 && s.errs == nil {
		s.errs = make(map[string]int64, len(o.errs))
	}
	for k, n := range o.errs {
		s.errs[k] += n
	}
	for k, a := range o.lat {
		if a != nil {
			s.latency(k, ivDigits).merge(a)
		}
	}
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
			Messages:  messagesOf(&stages[i].counts, &stages[i].timed),
			Commands:  commandsOf(&stages[i].counts),
			Requests:  requestsOf(&stages[i].counts),
			LatencyMS: latenciesOf(&stages[i]),
		}
		start = c.stageEnds[i]
	}
	return out
}

func devicesOf(a *stageAcc, planned int, connectedMax int64) Devices {
	return Devices{
		Planned:           planned,
		ConnectedMax:      connectedMax,
		Connects:          a.counts[sim.Connected],
		ConnectFailures:   a.counts[sim.ConnectFailed],
		ConnectUnfinished: a.counts[sim.ConnectUnfinished],
		Disconnects:       a.counts[sim.Disconnected],
		Reconnects:        a.counts[sim.Reconnecting],
		Closed:            a.counts[sim.Closed],
	}
}

// messagesOf counts telemetry from the counts of all events (n) and of
// the Timed ones (t), attributing the loss as Messages describes.
func messagesOf(n, t *[numKinds]int64) Messages {
	m := Messages{
		Sent:            n[sim.Published],
		Timed:           t[sim.Published],
		Acked:           n[sim.Acked],
		Unacked:         n[sim.Unacked],
		Received:        n[sim.Delivered],
		Lost:            lost(n, t),
		Duplicates:      n[sim.Duplicate],
		PublishFailures: n[sim.PublishFailed],
		Deferred:        n[sim.Deferred],
	}
	m.LostUnacked = min(m.Lost, t[sim.Unacked])
	m.LostAfterAck = min(m.Lost-m.LostUnacked, t[sim.Acked])
	m.LostUnconfirmed = m.Lost - m.LostUnacked - m.LostAfterAck
	if m.Timed > 0 {
		m.LossPct = round3(100 * float64(m.Lost) / float64(m.Timed))
	}
	return m
}

// lost is the number of timed messages never delivered. Late deliveries
// of messages sent before a restart may outnumber them: it floors at 0.
func lost(n, t *[numKinds]int64) int64 { return max(0, t[sim.Published]-n[sim.Delivered]) }

func commandsOf(n *[numKinds]int64) Commands {
	sent, replied := n[sim.CommandSent], n[sim.CommandReplied]
	return Commands{Sent: sent, Replied: replied, Unanswered: max(0, sent-replied)}
}

func requestsOf(n *[numKinds]int64) Requests {
	sent, answered := n[sim.RequestSent], n[sim.RequestAnswered]
	return Requests{Sent: sent, Answered: answered, Unanswered: max(0, sent-answered)}
}

// missingOf counts, per latency kind, the flows that never finished: the
// connect attempts that failed, the telemetry given up unacknowledged,
// the timed messages lost, the commands and requests unanswered. Lags
// have none.
func missingOf(n, t *[numKinds]int64) [numLatency]int64 {
	var m [numLatency]int64
	m[latConnect] = n[sim.ConnectFailed]
	m[latAck] = n[sim.Unacked]
	m[latE2E] = lost(n, t)
	m[latCommand] = commandsOf(n).Unanswered
	m[latRequest] = requestsOf(n).Unanswered
	return m
}

func latenciesOf(a *stageAcc) Latencies {
	var l Latencies
	missing := missingOf(&a.counts, &a.timed)
	for i := range numBuiltin {
		*l.byIndex(i) = a.lat[i].stats(missing[i])
	}
	return l
}

// groupLatencies describes a group's distributions, judged like the
// run's; a kind without samples is empty.
func groupLatencies(g *groupAcc) Latencies {
	var l Latencies
	missing := missingOf(&g.counts, &g.timed)
	for i, a := range g.lat[:numBuiltin] {
		if a == nil {
			a = &latencyAcc{h: hdr.NewPacked(histLowest, histHighest, groupDigits)}
		}
		*l.byIndex(i) = a.stats(missing[i])
	}
	return l
}

// Judged percentiles, in thousandths: p50, p90, p99 and p99.9.
var perMilles = [4]int64{500, 900, 990, 999}

// stats describes the distribution in ms, judged with missing flows that
// never finished (see LatencyStats). Reachable percentiles are the
// histogram's bucket tops, capped at the exact maximum.
func (a *latencyAcc) stats(missing int64) LatencyStats {
	n := a.h.TotalCount()
	s := LatencyStats{Count: n, Missing: missing}
	maxUS := int64((a.max + time.Microsecond/2) / time.Microsecond)
	for i, p := range [...]*Judged{&s.P50, &s.P90, &s.P99, &s.P999} {
		*p = judgedPercentile(a.h, missing, perMilles[i], maxUS)
	}
	if n > 0 {
		s.Max = float64(maxUS) / 1000
		s.Mean = round3(float64(a.sum) / float64(n) / float64(time.Millisecond))
	}
	return s
}

// seriesOf lays the merged seconds out as columns, covering at least the
// elapsed time.
func seriesOf(secs []second, elapsed, iv time.Duration) Series {
	n := max(len(secs), min(int((elapsed+iv-1)/iv), maxReadIntervals))
	s := Series{
		IntervalS: iv.Seconds(),
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
		s.T[i] = int64(time.Duration(i+1) * iv / time.Second)
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
