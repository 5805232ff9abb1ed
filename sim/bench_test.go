package sim

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkFleetState measures what a fleet costs before any device
// connects: the engine's per-device state plus the queued connect job of
// every active device. A million meters must fit comfortably.
func BenchmarkFleetState(b *testing.B) {
	const n = 1_000_000
	p := meterPlan(n, 15*time.Minute, time.Hour, 1)
	p.Groups[0].Connect.Rate = Rate{Freq: 100, Per: time.Second}
	b.ReportAllocs()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		e, err := New(p, Options{Connector: newFakeBroker(0), Shards: 2})
		if err != nil {
			b.Fatal(err)
		}
		e.setLevel(n, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/device")
		runtime.KeepAlive(e)
	}
}

// BenchmarkShardPushPop is the due-time queue's cost per job at a depth
// of 100k jobs.
func BenchmarkShardPushPop(b *testing.B) {
	s := newShard(0)
	for i := range 100_000 {
		s.push(job{due: time.Duration(i) * time.Microsecond})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j, _, _ := s.pop(time.Duration(1 << 62))
		j.due += 100 * time.Millisecond
		s.push(j)
		i++
	}
}

// BenchmarkTelemetryFire is one scheduled report: render, token, publish
// to a session that discards, and record.
func BenchmarkTelemetryFire(b *testing.B) {
	p := meterPlan(1, time.Second, time.Hour, 1)
	e, err := New(p, Options{Connector: newFakeBroker(0), Shards: 1})
	if err != nil {
		b.Fatal(err)
	}
	e.start = time.Now()
	d := &e.devs[0]
	d.state, d.sess, d.id = stateConnected, discard{}, "m-0"
	sc := new(scratch)
	b.ReportAllocs()
	var k uint64
	for b.Loop() {
		e.devicePublish(job{dev: 0, kind: jobTelemetry, epoch: d.life, slot: k}, 0, sc)
		d.inflight = d.inflight[:0]
		k++
		if k%1024 == 0 {
			e.shards[0].heap = e.shards[0].heap[:0]
		}
	}
}

type discard struct{}

func (discard) Send(Message) error { return nil }
func (discard) Ping() error        { return nil }
func (discard) Close() error       { return nil }

// BenchmarkCensus is what counting 10,000 devices by state costs, which a
// run does once a second for its report and live view.
func BenchmarkCensus(b *testing.B) {
	const n = 10_000
	p := meterPlan(n, 15*time.Minute, time.Hour, 1)
	e, err := New(p, Options{Connector: newFakeBroker(0), Shards: 2})
	if err != nil {
		b.Fatal(err)
	}
	e.setLevel(n, n)
	b.ReportAllocs()
	for b.Loop() {
		c := e.Census()
		if c[0].Active() != n {
			b.Fatalf("census counts %d active devices, want %d", c[0].Active(), n)
		}
	}
}
