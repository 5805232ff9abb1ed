package sim

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A shard on a kernel timer fires every job, in due order and never
// early; a job pushed ahead of the one it sleeps for wakes it; and it
// stops as soon as its context ends, even with nothing due for an hour.
func TestShardOnAKernelTimer(t *testing.T) {
	a, err := newAlarm()
	if err != nil {
		t.Fatal(err)
	}
	s := newShard(8)
	s.alarm = a
	start := time.Now()
	now := func() time.Duration { return time.Since(start) }
	var mu sync.Mutex
	type fired struct {
		dev     int32
		due, at time.Duration
	}
	var got []fired
	done := make(chan struct{}, 8)
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		s.run(ctx, now, func(j job, n time.Duration) {
			mu.Lock()
			got = append(got, fired{j.dev, j.due, now()})
			mu.Unlock()
			done <- struct{}{}
		})
	}()
	base := now()
	s.push(job{due: base + 300*time.Millisecond, dev: 3, kind: jobTelemetry})
	s.push(job{due: base + 200*time.Millisecond, dev: 2, kind: jobTelemetry})
	s.push(job{due: base + time.Hour, dev: 9, kind: jobTelemetry})
	time.Sleep(20 * time.Millisecond) // the shard sleeps for dev 2 by now
	s.push(job{due: base + 50*time.Millisecond, dev: 1, kind: jobTelemetry})
	for range 3 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("fired %v after 10 s, want devices 1, 2 and 3", got)
		}
	}
	mu.Lock()
	for i, f := range got {
		if f.dev != int32(i+1) || f.at < f.due {
			t.Errorf("fired #%d: device %d at %v for %v; want device %d, never before its due time", i, f.dev, f.at, f.due, i+1)
		}
	}
	mu.Unlock()
	stopAt := time.Now()
	cancel()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the shard did not stop within 10 s of its context ending")
	}
	if d := time.Since(stopAt); d > time.Second {
		t.Errorf("the shard took %v to stop, with a job due in an hour", d)
	}
	a.close()
}

// An engine with KernelTimers runs its shards on them, on the real clock,
// closes them at the end, and every device reports as planned.
func TestEngineKernelTimers(t *testing.T) {
	b := newFakeBroker(time.Millisecond)
	p := meterPlan(50, 100*time.Millisecond, time.Second, 1)
	p.Drain = time.Second
	rec := &tally{}
	e, err := New(p, Options{Connector: b, Receiver: b, Sender: b, Recorder: rec, Shards: 2, KernelTimers: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, s := range e.shards {
		if s.alarm != nil {
			t.Fatal("a shard still holds its kernel timer after Run")
		}
	}
	// 50 devices every 100 ms for 1 s, less each device's connect and phase.
	if sent, delivered := rec.count(Published), rec.count(Delivered); sent < 300 || delivered != sent {
		t.Fatalf("%d published, %d delivered; want over 300, all delivered", sent, delivered)
	}
}
