package report

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

var benchLatencies = lognormal(9, 4096)

// benchEvent is event i of a telemetry-like mix: publish, ack, delivery
// and an occasional lag, 10 µs apart, with latencies from about 100 µs to
// 100 ms. Time only moves forward, as in a run.
func benchEvent(i int) sim.Event {
	d := benchLatencies[i%len(benchLatencies)]
	at := time.Duration(i) * 10 * time.Microsecond
	switch i % 4 {
	case 0:
		return sim.Event{Kind: sim.Published, At: at, Intended: at}
	case 1:
		return sim.Event{Kind: sim.Acked, At: at + d/2, Latency: d / 2, Intended: at}
	case 2:
		return sim.Event{Kind: sim.Delivered, At: at + d, Latency: d, Intended: at}
	}
	return sim.Event{Kind: sim.Published, At: at + d/100, Latency: d / 100, Intended: at}
}

// benchTimedEvent is event i of a fleet timed end to end: timed publish
// and ack, the backend's lag and the delivery, and a late publish.
func benchTimedEvent(i int) sim.Event {
	d := benchLatencies[i%len(benchLatencies)]
	at := time.Duration(i) * 10 * time.Microsecond
	switch i % 5 {
	case 0:
		return sim.Event{Kind: sim.Published, Group: i % 3, At: at, Intended: at, Timed: true}
	case 1:
		return sim.Event{Kind: sim.Acked, Group: i % 3, At: at + d/2, Latency: d / 2, Intended: at, Timed: true}
	case 2:
		return sim.Event{Kind: sim.BackendLag, Group: i % 3, At: at + d, Latency: d / 50}
	case 3:
		return sim.Event{Kind: sim.Delivered, Group: i % 3, At: at + d, Latency: d, Intended: at}
	}
	return sim.Event{Kind: sim.Published, Group: i % 3, At: at + d/100, Latency: d / 100, Intended: at, Timed: true}
}

func benchRecord(b *testing.B, info Info, event func(int) sim.Event) {
	c := NewCollector(info)
	for i := range 100_000 { // warm up: histograms, error kinds and seconds exist
		c.Record(event(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c.Record(event(i))
	}
}

func BenchmarkRecord(b *testing.B) {
	b.Run("stages=0", func(b *testing.B) { benchRecord(b, Info{Duration: time.Minute}, benchEvent) })
	b.Run("stages=3", func(b *testing.B) { benchRecord(b, Info{Stages: testStages}, benchEvent) })
	b.Run("timed", func(b *testing.B) { benchRecord(b, Info{Duration: time.Minute}, benchTimedEvent) })
}

func BenchmarkRecordParallel(b *testing.B) {
	c := NewCollector(Info{Duration: time.Minute})
	for i := range 100_000 {
		c.Record(benchEvent(i))
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Goroutines report about the same time, as concurrent devices do.
		i := int(next.Add(1)) * 1000
		for pb.Next() {
			c.Record(benchEvent(i))
			i++
		}
	})
}

func benchCollector(b *testing.B) *Collector {
	c := NewCollector(Info{Duration: time.Minute, Stages: testStages})
	for i := range 1_000_000 {
		c.Record(benchEvent(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	return c
}

func BenchmarkSnapshot(b *testing.B) {
	c := benchCollector(b)
	for b.Loop() {
		c.Snapshot()
	}
}

func BenchmarkResult(b *testing.B) {
	c := benchCollector(b)
	for b.Loop() {
		c.Result(StatusPassed, time.Minute)
	}
}

// BenchmarkLiveSecond is what the live view asks of the collector once a
// second: Live and the interval that just closed, one minute into a run
// of 1,000 messages a second (10,000 devices reporting every 10 s) in
// two groups. Divided by a second, it is the view's share of a core.
func BenchmarkLiveSecond(b *testing.B) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewCollector(Info{Devices: 10_000, Duration: 10 * time.Minute, Started: start,
		Groups: []GroupInfo{{Name: "a", Devices: 5000}, {Name: "b", Devices: 5000}}})
	for i := range 60_000 {
		e := benchTimedEvent(i * 5)
		e.Group = i % 2
		e.At, e.Intended = time.Duration(i)*time.Millisecond, time.Duration(i)*time.Millisecond
		for k := range 4 {
			e2 := benchTimedEvent(i*5 + k)
			e2.Group, e2.At, e2.Intended = e.Group, e.At+e2.Latency, e.At
			c.Record(e2)
		}
	}
	c.now = func() time.Time { return start.Add(60 * time.Second) }
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Live()
		_ = c.Points(59)
	}
}
