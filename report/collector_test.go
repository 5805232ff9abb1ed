package report

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

const ms = time.Millisecond

var testStages = []sim.Stage{
	{Name: "ramp", Duration: 10 * time.Second, Devices: 100},
	{Name: "steady", Duration: 20 * time.Second, Devices: 100},
	{Name: "down", Duration: 10 * time.Second, Devices: 0},
}

// lognormal draws n latencies with a 2 ms median and a long tail.
func lognormal(seed uint64, n int) []time.Duration {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(math.Exp(r.NormFloat64()) * float64(2*ms))
	}
	return out
}

// toMS is d in ms rounded to the µs, as the Result reports it.
func toMS(d time.Duration) float64 {
	return float64((d+time.Microsecond/2)/time.Microsecond) / 1000
}

func TestCollectorPercentiles(t *testing.T) {
	samples := lognormal(42, 100_000)
	c := NewCollector(Info{Name: "percentiles"})
	var sum time.Duration
	for i, d := range samples {
		c.Record(sim.Event{Kind: sim.Delivered, At: time.Duration(i)*ms + d, Latency: d})
		sum += d
	}
	e2e := c.Result(StatusPassed, 100*time.Second).LatencyMS.E2E
	slices.Sort(samples)
	n := len(samples)
	for _, tt := range []struct {
		p   float64
		got float64
	}{{50, e2e.P50.V}, {90, e2e.P90.V}, {99, e2e.P99.V}, {99.9, e2e.P999.V}} {
		// Nearest-rank percentile of the sorted samples. HDR reports the
		// top of the bucket holding it: not below it, at most 1/1024 above.
		// The epsilon keeps 99.9/100*n from rounding up past an integer.
		exact := toMS(samples[int(math.Ceil(tt.p/100*float64(n)-1e-9))-1])
		if tt.got < exact || tt.got > exact*(1+1.0/1024)+0.001 {
			t.Errorf("p%v = %v ms, want %v ms within HDR precision (+0.1%%)", tt.p, tt.got, exact)
		}
	}
	if want := toMS(samples[n-1]); e2e.Max != want {
		t.Errorf("max = %v ms, want %v ms", e2e.Max, want)
	}
	if want := round3(float64(sum) / float64(n) / float64(ms)); e2e.Mean != want {
		t.Errorf("mean = %v ms, want %v ms", e2e.Mean, want)
	}
	if e2e.Count != int64(n) {
		t.Errorf("count = %d, want %d", e2e.Count, n)
	}
}

func TestCollectorClampsLatency(t *testing.T) {
	c := NewCollector(Info{})
	c.Record(sim.Event{Kind: sim.Acked, At: time.Second, Latency: -time.Second})
	c.Record(sim.Event{Kind: sim.Acked, At: 21 * 24 * time.Hour, Latency: 20 * 24 * time.Hour})
	ack := c.Result(StatusPassed, 21*24*time.Hour).LatencyMS.Ack
	if want := float64(histMax / time.Millisecond); ack.Count != 2 || ack.P50 != reached(0) || ack.Max != want || ack.P999 != reached(want) {
		t.Errorf("Ack stats after -1s and 20 days = %+v, want count 2, p50 0, p999 and max %v ms (14 days)", ack, want)
	}
}

// stageCount is the number of events a stage received in the tests below.
func stageCount(s StageResult) int64 {
	m, l := s.Messages, s.LatencyMS
	return m.Sent + m.Acked + m.Unacked + m.Received + m.PublishFailures + l.Connect.Count + l.BackendLag.Count
}

func TestCollectorStageAttribution(t *testing.T) {
	tests := []struct {
		name string
		e    sim.Event
		want int
	}{
		{"published inside ramp", sim.Event{Kind: sim.Published, At: 5 * time.Second, Intended: 5 * time.Second}, 0},
		{"published on the boundary", sim.Event{Kind: sim.Published, At: 10 * time.Second, Intended: 10 * time.Second}, 1},
		{"delivered after the boundary, intended before", sim.Event{Kind: sim.Delivered, At: 11 * time.Second, Latency: 2 * time.Second, Intended: 9 * time.Second}, 0},
		{"delivered, intended on the boundary", sim.Event{Kind: sim.Delivered, At: 12 * time.Second, Latency: 2 * time.Second, Intended: 10 * time.Second}, 1},
		{"acked long after, intended in ramp", sim.Event{Kind: sim.Acked, At: 39 * time.Second, Latency: 35 * time.Second, Intended: 4 * time.Second}, 0},
		{"published late, intended before the start", sim.Event{Kind: sim.Published, At: time.Second, Latency: 2 * time.Second, Intended: -time.Second}, 0},
		// A woken device's report leaves after its wake-up, which is not
		// schedule lag: At - Latency is not its intended time.
		{"published after a wake, intended in ramp", sim.Event{Kind: sim.Published, At: 11 * time.Second, Intended: 9 * time.Second}, 0},
		{"connected intended in steady", sim.Event{Kind: sim.Connected, At: 31 * time.Second, Latency: 2 * time.Second}, 1},
		{"failure by the time it happened", sim.Event{Kind: sim.PublishFailed, At: 35 * time.Second, Err: "timeout"}, 2},
		{"after the last stage", sim.Event{Kind: sim.Published, At: 45 * time.Second, Intended: 45 * time.Second}, 2},
		{"delivered in the drain", sim.Event{Kind: sim.Delivered, At: 50 * time.Second, Latency: time.Second, Intended: 49 * time.Second}, 2},
		{"unacked at close, intended in ramp", sim.Event{Kind: sim.Unacked, At: 40 * time.Second, Intended: 9 * time.Second, Timed: true}, 0},
		{"backend lag by when the message arrived", sim.Event{Kind: sim.BackendLag, At: 10*time.Second + 5*ms, Latency: 10 * ms}, 0},
	}
	for _, tt := range tests {
		c := NewCollector(Info{Stages: testStages})
		c.Record(tt.e)
		r := c.Result(StatusPassed, 50*time.Second)
		for i, s := range r.Stages {
			want := int64(0)
			if i == tt.want {
				want = 1
			}
			if got := stageCount(s); got != want {
				t.Errorf("%s: Record(%+v) put %d events in stage %q, want %d", tt.name, tt.e, got, s.Name, want)
			}
		}
	}
}

func TestCollectorStages(t *testing.T) {
	c := NewCollector(Info{Stages: testStages})
	r := c.Result(StatusPassed, 40*time.Second)
	want := []StageResult{
		{Name: "ramp", StartS: 0, EndS: 10, Devices: 100},
		{Name: "steady", StartS: 10, EndS: 30, Devices: 100},
		{Name: "down", StartS: 30, EndS: 40, Devices: 0},
	}
	if !reflect.DeepEqual(r.Stages, want) {
		t.Errorf("Result().Stages = %+v, want %+v", r.Stages, want)
	}
	if got := NewCollector(Info{}).Result(StatusPassed, time.Second).Stages; got != nil {
		t.Errorf("Result().Stages without stages = %+v, want nil", got)
	}
}

func TestCollectorSeriesAndGauge(t *testing.T) {
	c := NewCollector(Info{Devices: 3})
	for _, e := range []sim.Event{
		{Kind: sim.Connected, At: 100 * ms, Latency: 50 * ms},
		{Kind: sim.Connected, At: 200 * ms, Latency: 50 * ms},
		{Kind: sim.Connected, At: 300 * ms, Latency: 50 * ms},
		{Kind: sim.Published, At: 500 * ms},
		{Kind: sim.Published, At: 999 * ms},
		{Kind: sim.Acked, At: 1000 * ms, Latency: 2 * ms},
		{Kind: sim.Delivered, At: 1001 * ms, Latency: 3 * ms},
		{Kind: sim.Disconnected, At: 1500 * ms, Err: "reset"},
		{Kind: sim.Reconnecting, At: 1500 * ms},
		{Kind: sim.ConnectFailed, At: 1700 * ms, Err: "refused"},
		{Kind: sim.Connected, At: 2100 * ms, Latency: 40 * ms},
		{Kind: sim.Published, At: 2999 * ms},
		{Kind: sim.Closed, At: 4200 * ms},
		{Kind: sim.Closed, At: 4200 * ms},
	} {
		c.Record(e)
	}
	r := c.Result(StatusPassed, 5500*ms)
	want := Series{
		IntervalS: 1,
		T:         []int64{1, 2, 3, 4, 5, 6},
		Sent:      []int64{2, 0, 1, 0, 0, 0},
		Acked:     []int64{0, 1, 0, 0, 0, 0},
		Delivered: []int64{0, 1, 0, 0, 0, 0},
		Connected: []int64{3, 2, 3, 3, 1, 1},
		Connects:  []int64{3, 0, 1, 0, 0, 0},
		Errors:    []int64{0, 2, 0, 0, 0, 0},
	}
	if !reflect.DeepEqual(r.Series, want) {
		t.Errorf("Result().Series =\n%+v, want\n%+v", r.Series, want)
	}
	wantDev := Devices{Planned: 3, ConnectedMax: 3, Connects: 4, ConnectFailures: 1, Disconnects: 1, Reconnects: 1, Closed: 2}
	if r.Devices != wantDev {
		t.Errorf("Result().Devices = %+v, want %+v", r.Devices, wantDev)
	}
	if want := (ErrorCounts{"reset": 1, "refused": 1}); !reflect.DeepEqual(r.Errors, want) {
		t.Errorf("Result().Errors = %v, want %v", r.Errors, want)
	}
	if r.Connect.SuccessPct != 80 {
		t.Errorf("Result().Connect.SuccessPct = %v, want 80", r.Connect.SuccessPct)
	}
	if s := c.Snapshot(); s.Connected != 1 || s.ConnectedMax != 3 {
		t.Errorf("Snapshot() connected = %d, max %d, want 1, 3", s.Connected, s.ConnectedMax)
	}
}

// tally is a count of events of one kind, Timed or not.
type tally struct {
	kind  sim.EventKind
	timed bool
	n     int
}

func recordTallies(c *Collector, ts []tally) {
	for _, t := range ts {
		for range t.n {
			c.Record(sim.Event{Kind: t.kind, At: time.Second, Latency: ms, Timed: t.timed})
		}
	}
}

func TestCollectorMessages(t *testing.T) {
	const pub, ack, unack, del = sim.Published, sim.Acked, sim.Unacked, sim.Delivered
	tests := []struct {
		name   string
		events []tally
		want   Messages
	}{
		{"nothing", nil, Messages{}},
		{"QoS 1, the broker dropped some on the way out",
			[]tally{{pub, true, 1000}, {ack, true, 1000}, {del, false, 990}},
			Messages{Sent: 1000, Timed: 1000, Acked: 1000, Received: 990, Lost: 10, LossPct: 1, LostAfterAck: 10}},
		{"loss over the timed sample only",
			[]tally{{pub, true, 100}, {pub, false, 900}, {del, false, 95}},
			Messages{Sent: 1000, Timed: 100, Received: 95, Lost: 5, LossPct: 5, LostUnconfirmed: 5}},
		{"QoS 0: no acknowledgement says where",
			[]tally{{pub, true, 3}, {del, false, 2}},
			Messages{Sent: 3, Timed: 3, Received: 2, Lost: 1, LossPct: 33.333, LostUnconfirmed: 1}},
		{"unacknowledged first, up to the timed unacked",
			[]tally{{pub, true, 100}, {ack, true, 80}, {unack, true, 20}, {del, false, 85}},
			Messages{Sent: 100, Timed: 100, Acked: 80, Unacked: 20, Received: 85, Lost: 15, LossPct: 15, LostUnacked: 15}},
		{"unacknowledged, then acknowledged",
			[]tally{{pub, true, 100}, {ack, true, 95}, {unack, true, 5}, {del, false, 90}},
			Messages{Sent: 100, Timed: 100, Acked: 95, Unacked: 5, Received: 90, Lost: 10, LossPct: 10, LostUnacked: 5, LostAfterAck: 5}},
		{"untimed devices' unacked messages are counted, not attributed",
			[]tally{{pub, true, 50}, {pub, false, 50}, {ack, true, 50}, {ack, false, 40}, {unack, false, 10}, {del, false, 45}},
			Messages{Sent: 100, Timed: 50, Acked: 90, Unacked: 10, Received: 45, Lost: 5, LossPct: 10, LostAfterAck: 5}},
		{"QoS 1 and QoS 0 mixed: acknowledged before unconfirmed",
			[]tally{{pub, true, 100}, {ack, true, 10}, {del, false, 70}},
			Messages{Sent: 100, Timed: 100, Acked: 10, Received: 70, Lost: 30, LossPct: 30, LostAfterAck: 10, LostUnconfirmed: 20}},
		// Late deliveries of messages sent before a restart: lost floors at 0.
		{"more received than timed",
			[]tally{{pub, true, 2}, {del, false, 3}},
			Messages{Sent: 2, Timed: 2, Received: 3}},
		{"others",
			[]tally{{pub, true, 1}, {sim.Duplicate, false, 2}, {sim.PublishFailed, false, 3}, {sim.Deferred, false, 4}},
			Messages{Sent: 1, Timed: 1, Lost: 1, LossPct: 100, LostUnconfirmed: 1, Duplicates: 2, PublishFailures: 3, Deferred: 4}},
	}
	for _, tt := range tests {
		c := NewCollector(Info{})
		recordTallies(c, tt.events)
		if got := c.Result(StatusPassed, time.Second).Messages; got != tt.want {
			t.Errorf("%s: Messages =\n%+v, want\n%+v", tt.name, got, tt.want)
		}
	}
}

func TestCollectorExchanges(t *testing.T) {
	tests := []struct {
		events   []tally
		commands Commands
		requests Requests
	}{
		{nil, Commands{}, Requests{}},
		{[]tally{{sim.CommandSent, false, 270}, {sim.CommandReplied, false, 158}, {sim.RequestSent, false, 10}, {sim.RequestAnswered, false, 10}},
			Commands{Sent: 270, Replied: 158, Unanswered: 112}, Requests{Sent: 10, Answered: 10}},
		// A reply to a command sent before a restart: unanswered floors at 0.
		{[]tally{{sim.CommandSent, false, 1}, {sim.CommandReplied, false, 2}, {sim.RequestSent, false, 3}},
			Commands{Sent: 1, Replied: 2}, Requests{Sent: 3, Unanswered: 3}},
	}
	for _, tt := range tests {
		c := NewCollector(Info{})
		recordTallies(c, tt.events)
		r := c.Result(StatusPassed, time.Second)
		if r.Commands != tt.commands || r.Requests != tt.requests {
			t.Errorf("after %v: commands %+v, requests %+v, want %+v, %+v", tt.events, r.Commands, r.Requests, tt.commands, tt.requests)
		}
	}
}

func TestCollectorConnects(t *testing.T) {
	tests := []struct {
		name       string
		events     []tally
		unfinished int64
		success    float64
	}{
		// A 3 s run over a 1 s link: every attempt was cut short.
		{"all unfinished", []tally{{sim.ConnectUnfinished, false, 37}}, 37, 0},
		{"unfinished are not failures", []tally{{sim.Connected, false, 3}, {sim.ConnectFailed, false, 1}, {sim.ConnectUnfinished, false, 6}}, 6, 75},
	}
	for _, tt := range tests {
		c := NewCollector(Info{})
		recordTallies(c, tt.events)
		r := c.Result(StatusPassed, time.Second)
		if r.Devices.ConnectUnfinished != tt.unfinished || r.Connect.SuccessPct != tt.success || r.Errors.Total() != r.Devices.ConnectFailures {
			t.Errorf("%s: unfinished %d, success %v%%, errors %v, want %d, %v%% and only the failures",
				tt.name, r.Devices.ConnectUnfinished, r.Connect.SuccessPct, r.Errors, tt.unfinished, tt.success)
		}
	}
}

// Each latency kind's missing flows: the ones that never finished.
func TestCollectorMissing(t *testing.T) {
	c := NewCollector(Info{})
	recordTallies(c, []tally{
		{sim.Connected, false, 9}, {sim.ConnectFailed, false, 1}, {sim.ConnectUnfinished, false, 5},
		{sim.Published, true, 100}, {sim.Published, false, 100}, {sim.Acked, true, 150}, {sim.Unacked, false, 50},
		{sim.Delivered, false, 40},
		{sim.CommandSent, false, 10}, {sim.CommandReplied, false, 4},
		{sim.RequestSent, false, 10}, {sim.RequestAnswered, false, 10},
		{sim.BackendLag, false, 40},
	})
	l := c.Result(StatusPassed, time.Second).LatencyMS
	want := [numBuiltin]int64{latConnect: 1, latAck: 50, latE2E: 60, latCommand: 6}
	for i := range want {
		if got := l.byIndex(i).Missing; got != want[i] {
			t.Errorf("%s missing = %d, want %d", latencyNames[i], got, want[i])
		}
	}
	// 60 of 100 e2e flows missing: p50 is beyond, and so is every higher one.
	if e := l.E2E; e.P50 != beyond || e.P999 != beyond || e.Max != 1 || e.Mean != 1 {
		t.Errorf("e2e with 60%% lost = %+v, want p50 to p99.9 beyond, max and mean 1 ms over the delivered", e)
	}
	if a := l.Ack; a.P50 != reached(1) || a.P99 != beyond {
		t.Errorf("ack with 25%% unacked = %+v, want p50 1 ms and p99 beyond", a)
	}
}

func TestCollectorIgnoresUnknownKinds(t *testing.T) {
	c := NewCollector(Info{})
	c.Record(sim.Event{Kind: 0, At: time.Second})
	c.Record(sim.Event{Kind: 200, At: time.Second})
	r := c.Result(StatusPassed, time.Second)
	if !reflect.DeepEqual(r, NewCollector(Info{Started: c.info.Started}).Result(StatusPassed, time.Second)) {
		t.Errorf("Result() after unknown kinds = %+v, want an empty result", r)
	}
}

// events is a fixed, varied event sequence over a 40 s run with stages:
// two groups, half the devices timed end to end (by message here), QoS 1
// telemetry of which some is given up unacknowledged, some acknowledged
// and never delivered, some fails to send; the backend's lag for every
// delivery.
func events(seed uint64) []sim.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	lat := lognormal(seed, 4000)
	var out []sim.Event
	for d := range 100 {
		at := time.Duration(d) * 97 * ms
		out = append(out, sim.Event{Kind: sim.Connected, Group: d % 2, At: at + 30*ms, Latency: 30 * ms})
	}
	for i := range 4000 {
		at := time.Duration(i) * 10 * ms
		g, timed := i%2, i%4 < 2
		x := r.IntN(100)
		if x == 2 {
			out = append(out, sim.Event{Kind: sim.PublishFailed, Group: g, At: at, Err: "timeout"})
			continue
		}
		out = append(out, sim.Event{Kind: sim.Published, Group: g, At: at + lat[i]/10, Intended: at, Timed: timed})
		if x == 0 {
			out = append(out, sim.Event{Kind: sim.Unacked, Group: g, At: at + time.Second, Intended: at, Timed: timed})
			continue
		}
		out = append(out, sim.Event{Kind: sim.Acked, Group: g, At: at + lat[i]/2, Latency: lat[i] / 2, Intended: at, Timed: timed})
		if x == 1 || !timed {
			continue
		}
		lag := time.Duration(20+r.IntN(60)) * time.Microsecond
		out = append(out,
			sim.Event{Kind: sim.BackendLag, Group: g, At: at + lat[i] + lag, Latency: lag},
			sim.Event{Kind: sim.Delivered, Group: g, At: at + lat[i], Latency: lat[i], Intended: at})
	}
	return out
}

func TestCollectorShardsAgree(t *testing.T) {
	info := Info{Name: "shards", Devices: 100, Duration: 40 * time.Second, Stages: testStages, Started: time.Unix(1e9, 0)}
	want := newCollector(info, 1)
	for _, e := range events(3) {
		want.Record(e)
	}
	// Shard count and arrival order (reversed, latest stage first) must not
	// change the figures.
	for _, tt := range []struct {
		procs    int
		reversed bool
	}{{1, true}, {2, false}, {5, false}, {64, false}, {1000, true}} {
		c := newCollector(info, tt.procs)
		evs := events(3)
		if tt.reversed {
			slices.Reverse(evs)
		}
		for _, e := range evs {
			c.Record(e)
		}
		got := c.Result(StatusPassed, 40*time.Second)
		if w := want.Result(StatusPassed, 40*time.Second); !reflect.DeepEqual(got, w) {
			t.Errorf("Result() with %d shards (reversed %v) differs from 1 shard in order:\n%+v\nwant\n%+v",
				len(c.shards), tt.reversed, got, w)
		}
	}
}

func TestCollectorConcurrent(t *testing.T) {
	const workers, per = 16, 3000
	c := newCollector(Info{Stages: testStages}, 8)
	stop := make(chan struct{})
	var snaps sync.WaitGroup
	snaps.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Snapshot()
			}
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				at := time.Duration(w*per+i) * 800 * time.Microsecond
				c.Record(sim.Event{Kind: sim.Connected, At: at, Latency: ms})
				c.Record(sim.Event{Kind: sim.Published, At: at})
				c.Record(sim.Event{Kind: sim.Delivered, At: at + 2*ms, Latency: 2 * ms})
				c.Record(sim.Event{Kind: sim.Closed, At: at + 3*ms})
			}
		})
	}
	wg.Wait()
	close(stop)
	snaps.Wait()
	r := c.Result(StatusPassed, 40*time.Second)
	const n = workers * per
	if r.Messages.Sent != n || r.Messages.Received != n || r.LatencyMS.E2E.Count != n || r.Devices.Closed != n {
		t.Errorf("after %d concurrent records of each kind: messages %+v, e2e count %d, closed %d", n, r.Messages, r.LatencyMS.E2E.Count, r.Devices.Closed)
	}
	if r.LatencyMS.E2E.P99 != reached(2) || r.LatencyMS.Connect.Max != 1 {
		t.Errorf("e2e p99 = %v, connect max = %v, want 2 and 1", r.LatencyMS.E2E.P99, r.LatencyMS.Connect.Max)
	}
	var sent, stages int64
	for _, v := range r.Series.Sent {
		sent += v
	}
	for _, s := range r.Stages {
		stages += s.Messages.Sent
	}
	if sent != n || stages != n {
		t.Errorf("series sent sums to %d, stages to %d, want %d", sent, stages, n)
	}
	if s := c.Snapshot(); s.Connected != 0 || s.Sent != n || s.E2ECount != n {
		t.Errorf("Snapshot() = %+v, want 0 connected, %d sent and e2e samples", s, n)
	}
}

// Telemetry a transport gave up on (a CoAP timeout, an error response) is
// unacknowledged and an error of its kind; one lost with its connection
// is only unacknowledged.
func TestCollectorUnackedWithReasonIsAnError(t *testing.T) {
	c := NewCollector(Info{})
	c.Record(sim.Event{Kind: sim.Published, At: 100 * time.Millisecond, Timed: true})
	c.Record(sim.Event{Kind: sim.Published, At: 200 * time.Millisecond, Timed: true})
	c.Record(sim.Event{Kind: sim.Unacked, At: 1500 * time.Millisecond, Intended: 100 * time.Millisecond, Timed: true, Err: "coap_5.03"})
	c.Record(sim.Event{Kind: sim.Unacked, At: 1600 * time.Millisecond, Intended: 200 * time.Millisecond, Timed: true})
	r := c.Result(StatusPassed, 2*time.Second)
	if want := (ErrorCounts{"coap_5.03": 1}); !reflect.DeepEqual(r.Errors, want) {
		t.Errorf("Result().Errors = %v, want %v", r.Errors, want)
	}
	if r.Messages.Unacked != 2 {
		t.Errorf("Result().Messages.Unacked = %d, want 2", r.Messages.Unacked)
	}
	if want := []int64{0, 1}; !reflect.DeepEqual(r.Series.Errors, want) {
		t.Errorf("Result().Series.Errors = %v, want %v", r.Series.Errors, want)
	}
}

func TestCollectorGaugesKeepTheCoresRunOn(t *testing.T) {
	c := NewCollector(Info{Devices: 1})
	for i, p := range []int{2, 2, 1, 1, 2} {
		c.Observe(Observation{At: time.Duration(i+1) * time.Second, CPU: time.Duration(i) * 100 * ms, Cores: 2, Procs: p})
	}
	r := c.Result(StatusPassed, 5*time.Second)
	g := r.Metrics.Gauges
	if want := []int64{2, 2, 1, 1, 2}; !reflect.DeepEqual(g.Procs, want) || g.Cores != 2 {
		t.Fatalf("gauges: procs %v of %d cores, want %v of 2", g.Procs, g.Cores, want)
	}
	_, read := viaJSON(t, r)
	back, err := Rebuild(read)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Metrics.Gauges.Procs, g.Procs) {
		t.Fatalf("rebuilt procs %v, want %v", back.Metrics.Gauges.Procs, g.Procs)
	}

	quiet := NewCollector(Info{Devices: 1})
	quiet.Observe(Observation{At: time.Second, Cores: 2})
	if p := quiet.Result(StatusPassed, time.Second).Metrics.Gauges.Procs; p != nil {
		t.Fatalf("procs %v without any observed, want none (omitted)", p)
	}
}
