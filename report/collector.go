package report

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/m2msim/m2msim/sim"
)

// Info describes the run a Collector measures.
type Info struct {
	// Groups names the device groups, in Event.Group order.
	Groups   []GroupInfo
	Name     string
	File     string
	Seed     uint64
	Devices  int
	Duration time.Duration
	Stages   []sim.Stage
	// Started is the wall-clock start of the run, the origin of Event.At.
	// Zero means the time NewCollector is called, until the engine says
	// otherwise through Collector.Started.
	Started time.Time
	// BackendConnections is how many connections m2msim's backend uses;
	// 0 when unknown.
	BackendConnections int
	// Thresholds are judged on the figures so far in Live.
	Thresholds []Threshold
	// E2E is the plan's end-to-end sample (sim.Plan.E2E): nil times every
	// device. GroupInfo.Timed counts the devices it picks.
	E2E *sim.Sampling
}

// Histogram geometry: microseconds from 1 µs to 14 days (longer than any
// run: a command to a sleeping device may wait hours), 3 significant
// figures. Latencies outside the range are clamped into it.
const (
	histLowest  = 1
	histHighest = int64(histMax / time.Microsecond)
	histDigits  = 3
	// ivDigits is the precision of the per-interval histograms: 2
	// significant figures (at most 1% high) keep an hour of them small,
	// and they only draw charts over time; thresholds and the tables use
	// the whole run's, stages' and groups' at 3.
	ivDigits = 2
)

const histMax = 14 * 24 * time.Hour

const numKinds = sim.NumKinds

// Latency kinds: the built-in ones in latencyNames order, then up to
// maxNamed that protocols name (sim.Measured), in the order first seen.
const (
	latConnect = iota
	latAck
	latE2E
	latCommand
	latRequest
	latLag
	latBackend
	numBuiltin
	numLatency = numBuiltin + maxNamed
)

// maxNamed bounds the latencies protocols may name in one run; samples of
// more are counted as errors ("too_many_metrics").
const maxNamed = 9

// latencySlot maps an event kind to 1 + its latency kind; 0 means the kind
// carries no latency.
var latencySlot = [numKinds]int8{
	sim.Connected:       1 + latConnect,
	sim.Acked:           1 + latAck,
	sim.Delivered:       1 + latE2E,
	sim.CommandReplied:  1 + latCommand,
	sim.RequestAnswered: 1 + latRequest,
	sim.Published:       1 + latLag,
	sim.BackendLag:      1 + latBackend,
}

// maxShards bounds lock striping: one process records at most a few
// million events a second, which 16 stripes carry, and every shard may hold
// a dense histogram (184 KB) per latency kind.
const maxShards = 16

// Collector aggregates Events into histograms, counters and per-second
// series without keeping samples. It implements sim.Recorder.
//
// Record spreads events over lock-striped shards so concurrent recorders
// rarely meet; Snapshot and Result lock one shard at a time.
type Collector struct {
	info      Info
	now       func() time.Time
	stageEnds []time.Duration // cumulative end of each stage
	iv        time.Duration   // length of a series interval
	maxBucket int             // last series interval; later events fold into it
	shards    []shard
	mask      uint64

	// origin is the run clock's start, the origin of Event.At.
	origin atomic.Pointer[time.Time]

	// The connection gauge is global so its maximum is exact.
	connected    atomic.Int64
	connectedMax atomic.Int64

	// snapMu guards scratch. Lock order: snapMu before any shard's mu.
	snapMu  sync.Mutex
	scratch *hdr.PackedHistogram // Snapshot's merge target, reused

	// named lists the latency names protocols brought, index numBuiltin
	// on; namedMu serialises additions (readers load without a lock).
	named   atomic.Pointer[[]string]
	namedMu sync.Mutex

	// obsMu guards obs, the observations by interval, and lastObs.
	obsMu   sync.Mutex
	obs     []observation
	lastObs observation
}

// shard is one lock stripe of the Collector's state.
type shard struct {
	mu     sync.Mutex // guards every field below
	stages []stageAcc // one per stage; one in all when there are no stages
	hot    [numLatency]hotHistogram
	ivHot  [numLatency]hotHistogram // the latest interval's samples
	errs   map[string]int64
	named  map[string]int64 // counts of sim.Counted, by Metric
	series []second         // by interval of Event.At
	// groupLat says whether groups get latency histograms of their own:
	// a run of one group has the run's (resultOf), and saves a histogram
	// a sample.
	groupLat bool
	groups   []groupAcc // by Event.Group
	_        [64]byte   // keeps the next shard's lock off this cache line
}

// stageAcc accumulates the events attributed to one stage: counts of
// every event, and separately of those marked Timed (telemetry from a
// device timed end to end).
type stageAcc struct {
	counts [numKinds]int64
	timed  [numKinds]int64
	lat    [numLatency]latencyAcc
}

// hotHistogram takes a latency kind's samples for the latest span (stage
// or interval) seen. A dense histogram records in a few ns, where the
// compact ones (latencyAcc.h) search their buckets; it moves into its
// span's compact histogram when a later span begins. Samples for an
// earlier span, which arrive only around boundaries, go to its compact
// histogram directly.
type hotHistogram struct {
	h    *hdr.Histogram // nil until the kind's first sample
	span int            // the stage or interval it holds
}

// latencyAcc is one latency distribution: an HDR histogram in µs plus the
// exact sum and maximum, so Mean and Max carry no bucket error. In a shard,
// h lacks the samples its hotHistogram holds.
type latencyAcc struct {
	h   *hdr.PackedHistogram
	sum time.Duration
	max time.Duration
}

// second holds the series counters of one interval (a second unless the
// run is long), and the backend's lag in it: how many deliveries it
// handled, how many of them late (over behindP99), and the largest lag.
// It also keeps every kind's count, the duration kinds' sums and maxima,
// the errors by kind and, per latency kind, the samples at ivDigits (less
// those the shard's ivHot holds).
type second struct {
	sent, timed, acked, delivered int64
	connDelta, connects           int64
	errors                        int64
	lagN, lagSlow                 int64
	lagMax                        time.Duration

	kinds    [numKinds]int64
	sum, max [numKinds]time.Duration
	errs     map[string]int64
	named    map[string]int64 // counts of sim.Counted, by Metric
	lat      [numLatency]*latencyAcc
}

// NewCollector returns a Collector for the run info describes.
func NewCollector(info Info) *Collector {
	return newCollector(info, runtime.GOMAXPROCS(0))
}

// newCollector returns a Collector with about procs shards.
func newCollector(info Info, procs int) *Collector {
	if info.Started.IsZero() {
		info.Started = time.Now()
	}
	info.Stages = slices.Clone(info.Stages)
	c := &Collector{info: info, now: time.Now}
	c.origin.Store(&info.Started)
	var end time.Duration
	for _, s := range info.Stages {
		end += s.Duration
		c.stageEnds = append(c.stageEnds, end)
	}
	c.iv = intervalFor(max(info.Duration, end))
	c.maxBucket = seriesLimit(max(info.Duration, end), c.iv)
	n := 1
	for n < min(procs, maxShards) {
		n *= 2
	}
	c.mask = uint64(n - 1)
	c.shards = make([]shard, n)
	// The series grows as it goes; this only spares the common case its
	// growth.
	buckets := min(int(max(info.Duration, end)/c.iv)+16, 4096)
	for i := range c.shards {
		c.shards[i].init(max(1, len(info.Stages)), buckets)
		c.shards[i].groupLat = len(info.Groups) > 1
	}
	return c
}

// Started sets the origin of Event.At: sim.Engine.Run calls it when its
// clock starts, before its first event, so that elapsed times and the
// seconds events fall in come from one clock.
func (c *Collector) Started(t time.Time) { c.origin.Store(&t) }

// started is the origin of Event.At.
func (c *Collector) started() time.Time { return *c.origin.Load() }

// maxIntervals bounds the intervals of a planned run's series: a run
// longer than half an hour gets intervals longer than a second. It keeps
// an hour of 10,000 devices, with a histogram per interval and latency,
// within about 5 MB of result.json (an interval's histogram of 1,000
// samples takes about 500 bytes).
const maxIntervals = 1800

// intervalFor is the series interval of a run planned to last d: a
// second up to half an hour, else the shortest of 2, 5, 10, 15, 30 s, 1, 2, 5,
// 10, 15, 30 min or 1 h that keeps the run within maxIntervals. An open
// run (d = 0) gets seconds, and the series grows as it runs.
func intervalFor(d time.Duration) time.Duration {
	for _, iv := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
		15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 15 * time.Minute, 30 * time.Minute} {
		if d <= iv*maxIntervals {
			return iv
		}
	}
	return time.Hour
}

// seriesLimit is the last series interval for a run planned to last d:
// an hour of drain and overrun past the plan (a tenth of the plan past
// ten hours), or a week for an open run.
func seriesLimit(d, iv time.Duration) int {
	if d <= 0 {
		return int(7 * 24 * time.Hour / iv)
	}
	return int((d+max(time.Hour, d/10))/iv) + 1
}

func (s *shard) init(stages, buckets int) {
	s.stages = make([]stageAcc, stages)
	for i := range s.stages {
		s.stages[i].init()
	}
	s.errs = make(map[string]int64)
	s.series = make([]second, 0, buckets)
}

func (a *stageAcc) init() {
	for i := range a.lat {
		a.lat[i].h = hdr.NewPacked(histLowest, histHighest, histDigits)
	}
}

// Record adds e. It is safe for concurrent use. It allocates only while
// warming up: a shard's first sample of a latency kind, first error of a
// kind, a second past the planned duration, or a new bucket in a stage's
// compact histogram.
func (c *Collector) Record(e sim.Event) {
	if e.Kind == 0 || int(e.Kind) >= numKinds {
		return
	}
	c.gauge(e.Kind)
	l := int(latencySlot[e.Kind]) - 1
	if e.Kind == sim.Measured {
		if l = c.latencyIndex(e.Metric); l < 0 {
			e.Err = "too_many_metrics"
		}
	}
	s := &c.shards[c.shardOf(e)]
	st, b := c.stageOf(e), c.bucketOf(e.At)
	s.mu.Lock()
	s.add(e, st, b, l)
	s.mu.Unlock()
}

// latencyIndex is the latency kind of the named metric, registering it
// on first sight; -1 when maxNamed are taken or the name is not a
// lower_snake_case word of at most 40 characters.
func (c *Collector) latencyIndex(name string) int {
	if p := c.named.Load(); p != nil {
		if i := slices.Index(*p, name); i >= 0 {
			return numBuiltin + i
		}
	}
	if !validMetricName(name) {
		return -1
	}
	c.namedMu.Lock()
	defer c.namedMu.Unlock()
	var names []string
	if p := c.named.Load(); p != nil {
		names = *p
	}
	if i := slices.Index(names, name); i >= 0 {
		return numBuiltin + i
	}
	if len(names) == maxNamed {
		return -1
	}
	names = append(slices.Clip(names), name)
	c.named.Store(&names)
	return numBuiltin + len(names) - 1
}

// validMetricName says whether name may name a metric: lower_snake_case,
// 1 to 40 characters, starting with a letter, and none of the built-in
// latencies' names.
func validMetricName(name string) bool {
	if len(name) == 0 || len(name) > 40 || name[0] < 'a' || name[0] > 'z' || slices.Contains(latencyNames[:], name) {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// metricName names latency kind k; "" for a slot no metric took.
func (c *Collector) metricName(k int) string {
	if k < numBuiltin {
		return latencyNames[k]
	}
	if p := c.named.Load(); p != nil && k-numBuiltin < len(*p) {
		return (*p)[k-numBuiltin]
	}
	return ""
}

// gauge tracks live connections and their maximum.
func (c *Collector) gauge(k sim.EventKind) {
	switch k {
	case sim.Connected:
		n := c.connected.Add(1)
		for m := c.connectedMax.Load(); n > m && !c.connectedMax.CompareAndSwap(m, n); {
			m = c.connectedMax.Load()
		}
	case sim.Disconnected, sim.Closed:
		c.connected.Add(-1)
	}
}

// shardOf picks a shard from the event's own bits: concurrent recorders
// report different times, so they spread without sharing a counter.
func (c *Collector) shardOf(e sim.Event) uint64 {
	x := uint64(e.At) ^ uint64(e.Latency)<<17 ^ uint64(e.Kind)<<56
	return (x * 0x9e3779b97f4a7c15 >> 40) & c.mask
}

// messageKinds are the events of one message's life, which belong to the
// stage of the message's intended time, so that a stage's sent, acked and
// received counts cover the same messages.
var messageKinds = [numKinds]bool{
	sim.Published: true, sim.Acked: true, sim.Unacked: true, sim.Delivered: true, sim.Duplicate: true,
	sim.CommandSent: true, sim.CommandReplied: true, sim.RequestSent: true, sim.RequestAnswered: true,
}

// stageOf attributes e to a stage: message events by their intended time,
// other latency events by when they began (At - Latency), the rest by At;
// events past the last stage go to it.
func (c *Collector) stageOf(e sim.Event) int {
	if len(c.stageEnds) == 0 {
		return 0
	}
	t := e.At
	switch {
	case messageKinds[e.Kind]:
		t = e.Intended
	case latencySlot[e.Kind] != 0 || e.Kind == sim.Measured:
		t -= e.Latency
	}
	i, found := slices.BinarySearch(c.stageEnds, t)
	if found {
		i++ // stages are half-open: [start, end)
	}
	return min(i, len(c.stageEnds)-1)
}

func (c *Collector) bucketOf(at time.Duration) int {
	if at < 0 {
		return 0
	}
	return int(min(at/c.iv, time.Duration(c.maxBucket)))
}

// add records e in stage and bucket; lat is its latency kind, or -1.
func (s *shard) add(e sim.Event, stage, bucket, lat int) {
	acc := &s.stages[stage]
	acc.counts[e.Kind]++
	if e.Timed {
		acc.timed[e.Kind]++
	}
	g := s.group(e.Group)
	if g != nil {
		g.add(e)
	}
	sec := s.second(bucket)
	sec.kinds[e.Kind]++
	if durationKinds[e.Kind] {
		sec.sum[e.Kind] += e.Latency
		sec.max[e.Kind] = max(sec.max[e.Kind], e.Latency)
	}
	switch {
	case lat >= 0 && e.Err == "":
		s.recordLatency(lat, stage, e.Latency)
		s.recordInterval(lat, bucket, e.Latency)
		if g != nil && s.groupLat {
			g.latency(lat, e.Latency)
		}
	case lat >= 0 || e.Kind == sim.Measured:
		s.errs[e.Err]++ // counted, but without a latency
		sec.errKind(e.Err)
	case e.Kind == sim.Counted && countable(s.named, e.Metric):
		s.named = addCount(s.named, e.Metric, 1)
		sec.named = addCount(sec.named, e.Metric, 1)
		if g != nil {
			g.named = addCount(g.named, e.Metric, 1)
		}
	case e.Kind == sim.Counted:
		s.errs["too_many_metrics"]++
		sec.errKind("too_many_metrics")
	}
	switch e.Kind {
	case sim.Published:
		sec.sent++
		if e.Timed {
			sec.timed++
		}
	case sim.BackendLag:
		sec.lag(e.Latency)
	case sim.Acked:
		sec.acked++
	case sim.Delivered:
		sec.delivered++
	case sim.Connected:
		sec.connects++
		sec.connDelta++
	case sim.Closed:
		sec.connDelta--
	case sim.Disconnected:
		sec.connDelta--
		fallthrough
	case sim.ConnectFailed, sim.PublishFailed:
		sec.errors++
		s.errs[errLabel(e.Err)]++
		sec.errKind(errLabel(e.Err))
	case sim.Unacked:
		if e.Err != "" { // the transport gave up on it: a timeout, a reset, an error response
			sec.errors++
			s.errs[errLabel(e.Err)]++
			sec.errKind(errLabel(e.Err))
		}
	}
}

// maxCounters bounds the counters protocols may name in one run.
const maxCounters = 32

// countable says whether a count of the named metric may be kept: a valid
// name, already counted or with room for one more.
func countable(m map[string]int64, name string) bool {
	if _, ok := m[name]; ok {
		return true
	}
	return len(m) < maxCounters && validMetricName(name) && !isKindName(name)
}

// isKindName says whether name is an event kind's, which the counters of
// event kinds already use.
func isKindName(name string) bool {
	for k := range numKinds {
		if sim.EventKind(k).String() == name {
			return true
		}
	}
	return false
}

// addCount adds n to m[name], making m when nil, and returns m.
func addCount(m map[string]int64, name string, n int64) map[string]int64 {
	if m == nil {
		m = make(map[string]int64)
	}
	m[name] += n
	return m
}

// errKind counts one failure of kind in the interval.
func (sec *second) errKind(kind string) {
	if sec.errs == nil {
		sec.errs = make(map[string]int64)
	}
	sec.errs[kind]++
}

// lag adds one backend lag d.
func (sec *second) lag(d time.Duration) {
	sec.lagN++
	if d > behindP99 {
		sec.lagSlow++
	}
	sec.lagMax = max(sec.lagMax, d)
}

// second returns bucket b, growing the series to hold it.
func (s *shard) second(b int) *second {
	if b >= len(s.series) {
		s.series = slices.Grow(s.series, b+1-len(s.series))[:b+1]
	}
	return &s.series[b]
}

// errLabel names a failure that came without a kind.
func errLabel(kind string) string {
	if kind == "" {
		return "unknown"
	}
	return kind
}

// recordLatency adds latency d of kind to stage. Recording cannot fail: d
// is clamped into the histograms' range.
func (s *shard) recordLatency(kind, stage int, d time.Duration) {
	s.hot[kind].record(stage, histDigits, d, &s.stages[stage].lat[kind],
		func(old int) *latencyAcc { return &s.stages[old].lat[kind] })
}

// recordInterval adds latency d of kind to interval b, as recordLatency
// does to a stage.
func (s *shard) recordInterval(kind, b int, d time.Duration) {
	s.ivHot[kind].record(b, ivDigits, d, s.series[b].latency(kind, ivDigits),
		func(old int) *latencyAcc { return s.series[old].lat[kind] })
}

// record adds latency d to span (a stage or an interval), whose compact
// accumulator is acc: through the dense histogram when span is the
// latest seen, moving the dense one's samples into the compact one of
// their span (accOf) when a later span begins, and straight into acc for
// an earlier span.
func (hot *hotHistogram) record(span, digits int, d time.Duration, acc *latencyAcc, accOf func(int) *latencyAcc) {
	d = max(0, min(d, histMax))
	us := int64((d + time.Microsecond/2) / time.Microsecond)
	acc.sum += d
	acc.max = max(acc.max, d)
	switch {
	case hot.h == nil:
		hot.h, hot.span = hdr.New(histLowest, histHighest, digits), span
	case span > hot.span:
		accOf(hot.span).h.MergeFrom(hot.h)
		hot.h.Reset()
		hot.span = span
	case span < hot.span:
		_ = acc.h.RecordValue(us)
		return
	}
	_ = hot.h.RecordValue(us)
}

// latency returns the interval's accumulator for kind, made at digits
// significant figures when missing.
func (sec *second) latency(kind, digits int) *latencyAcc {
	if sec.lat[kind] == nil {
		sec.lat[kind] = &latencyAcc{h: hdr.NewPacked(histLowest, histHighest, digits)}
	}
	return sec.lat[kind]
}

// ivHotFor returns the dense histogram holding samples of kind for
// interval b, or nil.
func (s *shard) ivHotFor(kind, b int) *hdr.Histogram {
	if hot := &s.ivHot[kind]; hot.h != nil && hot.span == b {
		return hot.h
	}
	return nil
}

// hotFor returns the dense histogram holding samples of kind for stage,
// or nil.
func (s *shard) hotFor(kind, stage int) *hdr.Histogram {
	if hot := &s.hot[kind]; hot.span == stage {
		return hot.h
	}
	return nil
}

// mergeStage adds the shard's share of stage to dst.
func (s *shard) mergeStage(stage int, dst *stageAcc) {
	dst.merge(&s.stages[stage])
	for k := range dst.lat {
		if h := s.hotFor(k, stage); h != nil {
			dst.lat[k].h.MergeFrom(h)
		}
	}
}

func (a *latencyAcc) merge(b *latencyAcc) {
	a.h.Merge(b.h)
	a.sum += b.sum
	a.max = max(a.max, b.max)
}

func (a *stageAcc) merge(b *stageAcc) {
	for k := range a.counts {
		a.counts[k] += b.counts[k]
		a.timed[k] += b.timed[k]
	}
	for i := range a.lat {
		a.lat[i].merge(&b.lat[i])
	}
}

// Elapsed is the time since the run's clock started.
func (c *Collector) Elapsed() time.Duration { return c.now().Sub(c.started()) }
