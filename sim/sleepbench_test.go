package sim

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// sleepingFleetSize is the fleet BenchmarkSleepingFleet builds: 1,000,000
// by default, which keeps CI's -benchtime=1x run to a few seconds and
// well under 1 GiB; M2MSIM_BENCH_DEVICES sets another size (the
// sleeping-fleet script runs it at 5,000,000).
func sleepingFleetSize(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("M2MSIM_BENCH_DEVICES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("M2MSIM_BENCH_DEVICES=%q: want a positive device count", s)
		}
		n = v
	}
	return n
}

// instantConnector connects at once to a session that acknowledges every
// send before Send returns.
type instantConnector struct{}

func (instantConnector) Connect(_ context.Context, _ ConnectSpec, h Handler) (Session, error) {
	return ackSession{h}, nil
}

type ackSession struct{ h Handler }

func (s ackSession) Send(m Message) error {
	if m.QoS > 0 {
		s.h.Acked(m.Ref)
	}
	return nil
}
func (ackSession) Ping() error  { return nil }
func (ackSession) Close() error { return nil }

// sleepyPlan is a fleet of per-report meters reporting every 15 minutes.
func sleepyPlan(n int) *Plan {
	p := meterPlan(n, 15*time.Minute, time.Hour, 1)
	p.Groups[0].Connect.PerReport = true
	p.Groups[0].Connect.KeepAlive = 0 // awake for milliseconds: no pings
	return p
}

// wakeAll runs every device's first report through the engine's own
// wake path (telemetry slot, connect, send, ack, linger) with the clock
// stopped before any second report is due, so that each device is back
// asleep holding what a sleeping device keeps between reports.
func wakeAll(e *Engine, horizon time.Duration) int {
	e.runCtx = context.Background()
	sc := new(scratch)
	fired := 0
	for more := true; more; {
		more = false
		for _, s := range e.shards {
			for {
				j, _, ok := s.pop(horizon)
				if !ok {
					break
				}
				e.fire(j, j.due, sc)
				fired++
				more = true
			}
		}
		e.dials.Wait()
	}
	return fired
}

// BenchmarkSleepingFleet measures what a per-report device costs while it
// sleeps, after it has woken once: the engine's live heap per device (its
// state and its one queued job), and the CPU of one wake through the
// engine (report, connect, send, ack, linger) with a session that costs
// nothing. A process's RSS is higher: garbage waits for the collector
// (bench/sleeping-fleet measures it). See sleepingFleetSize for the
// fleet's size.
func BenchmarkSleepingFleet(b *testing.B) {
	n := sleepingFleetSize(b)
	b.ReportAllocs()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		e, err := New(sleepyPlan(n), Options{Connector: instantConnector{}, Shards: 2})
		if err != nil {
			b.Fatal(err)
		}
		e.start = time.Now()
		e.setLevel(0, n)
		t0 := time.Now()
		fired := wakeAll(e, 15*time.Minute)
		b.ReportMetric(float64(time.Since(t0).Nanoseconds())/float64(n), "ns/wake")
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/device")
		if q := e.queued(); q != n {
			b.Fatalf("%d jobs queued, want one report per device (%d)", q, n)
		}
		woke := 0
		for i := range e.devs {
			d := &e.devs[i]
			if d.state != stateAsleep || d.seq > 1 {
				b.Fatalf("device %d: state %d after %d reports, want asleep after at most 1", i, d.state, d.seq)
			}
			woke += int(d.seq)
		}
		// A device activated after its phase passed reports a period
		// later, beyond the horizon: a few of the last ones activated.
		if woke < n*99/100 || fired < 3*woke {
			b.Fatalf("%d of %d devices woke with %d jobs fired, want 99%% with 3 jobs each (report, connect, linger)",
				woke, n, fired)
		}
		runtime.KeepAlive(e)
	}
}

// queued counts the jobs in every shard's queue.
func (e *Engine) queued() int {
	n := 0
	for _, s := range e.shards {
		s.mu.Lock()
		n += len(s.heap)
		s.mu.Unlock()
	}
	return n
}

// BenchmarkShardDeepQueue is the due-time queue's cost per job (one pop
// and one push, as each report does) with one job queued per device of a
// sleeping fleet (see sleepingFleetSize), due times spread over 15
// minutes as the fleet's phases are.
func BenchmarkShardDeepQueue(b *testing.B) {
	n := sleepingFleetSize(b)
	s := newShard(n)
	span := int64(15 * time.Minute)
	for i := range n {
		s.push(job{due: time.Duration(uniform(uint64(i)*0x9e3779b97f4a7c15+1, span)), dev: int32(i)})
	}
	b.ReportAllocs()
	now := time.Duration(0)
	for b.Loop() {
		j, _, ok := s.pop(time.Duration(1 << 62))
		if !ok {
			b.Fatal("queue ran dry")
		}
		now = j.due
		j.due += 15 * time.Minute
		s.push(j)
	}
	_ = now
}
