package scenarios

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The goroutine budget: one per connected device (its session's reader)
// plus a fixed few for the run; nothing per device otherwise.
func TestGoroutinesPerConnectedDevice(t *testing.T) {
	const n = 1000
	m := mqtttest.StartMosquitto(t)
	s, err := Parse("budget.yaml", fmt.Appendf(nil, `version: 1
name: budget
seed: 1
duration: 1h
target: {broker: "tcp://%s"}
groups:
  - {name: d, count: %d, connect: {rate: 5000/s}, telemetry: {every: 1h, qos: 1}, commands: {every: 1h}}
`, m.Addr(), n))
	if err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	rt, err := Open(t.Context(), s, 1, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rt.Close()
	var connected atomic.Int64
	rec := sim.RecorderFunc(func(e sim.Event) {
		if e.Kind == sim.Connected {
			connected.Add(1)
		}
	})
	e, err := sim.New(s.Plan(), sim.Options{Connector: rt.Connector, Receiver: rt.Receiver, Sender: rt.Sender, Recorder: rec, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	eventually(t, 20*time.Second, "all devices connected", func() bool { return connected.Load() == n })
	// Dial goroutines end just after their Connected event.
	var per float64
	eventually(t, 5*time.Second, "goroutines settle at one per device", func() bool {
		per = float64(runtime.NumGoroutine()-base-10) / n
		return per <= 1.0
	})
	t.Logf("%.3f goroutines per connected device (%d in all, %d before)", per, runtime.NumGoroutine(), base)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	eventually(t, 5*time.Second, "goroutines back to the baseline after Run", func() bool {
		return runtime.NumGoroutine() <= base+4
	})
}
