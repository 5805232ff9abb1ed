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
	}{{50, e2e.P50}, {90, e2e.P90}, {99, e2e.P99}, {99.9, e2e.P999}} {
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
	if want := float64(histMax / time.Millisecond); ack.Count != 2 || ack.P50 != 0 || ack.Max != want || ack.P999 != want {
		t.Errorf("Ack stats after -1s and 20 days = %+v, want count 2, p50 0, p999 and max %v ms (14 days)", ack, want)
	}
}

// stageCount is the number of events a stage received in the tests below.
func stageCount(s StageResult) int64 {
	m, l := s.Messages, s.LatencyMS
	return m.Sent + m.Acked + m.Received + m.PublishFailures + l.Connect.Count
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

func TestCollectorMessages(t *testing.T) {
	tests := []struct {
		sent, received int
		want           Messages
	}{
		{0, 0, Messages{}},
		{1000, 990, Messages{Sent: 1000, Received: 990, Lost: 10, LossPct: 1}},
		{3, 2, Messages{Sent: 3, Received: 2, Lost: 1, LossPct: 33.333}},
		// Late deliveries of messages sent before a restart: lost floors at 0.
		{2, 3, Messages{Sent: 2, Received: 3}},
	}
	for _, tt := range tests {
		c := NewCollector(Info{})
		for range tt.sent {
			c.Record(sim.Event{Kind: sim.Published, At: time.Second})
		}
		for range tt.received {
			c.Record(sim.Event{Kind: sim.Delivered, At: time.Second, Latency: ms})
		}
		if got := c.Result(StatusPassed, time.Second).Messages; got != tt.want {
			t.Errorf("Messages after %d sent, %d received = %+v, want %+v", tt.sent, tt.received, got, tt.want)
		}
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

// events is a fixed, varied event sequence over a 40 s run with stages.
func events(seed uint64) []sim.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	lat := lognormal(seed, 4000)
	var out []sim.Event
	for d := range 100 {
		at := time.Duration(d) * 97 * ms
		out = append(out, sim.Event{Kind: sim.Connected, At: at + 30*ms, Latency: 30 * ms})
	}
	for i := range 4000 {
		at := time.Duration(i) * 10 * ms
		out = append(out,
			sim.Event{Kind: sim.Published, At: at + lat[i]/10, Intended: at},
			sim.Event{Kind: sim.Acked, At: at + lat[i]/2, Latency: lat[i] / 2, Intended: at})
		switch x := r.IntN(100); {
		case x < 2: // lost
		case x < 3:
			out = append(out, sim.Event{Kind: sim.PublishFailed, At: at, Err: "timeout"})
		default:
			out = append(out, sim.Event{Kind: sim.Delivered, At: at + lat[i], Latency: lat[i], Intended: at})
		}
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
	if r.LatencyMS.E2E.P99 != 2 || r.LatencyMS.Connect.Max != 1 {
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
