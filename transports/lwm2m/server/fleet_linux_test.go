//go:build linux

package server_test

import (
	"context"
	"flag"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

var fleetSize = flag.Int("lwm2m.fleet", 2000, "devices TestFleetFootprint registers (10000 for the full figure)")

// TestFleetFootprint registers a fleet of devices with the embedded
// server in this process and reports what a registered device costs
// (client, session, socket and the server's registration) and how fast
// they register, read and de-register. Run with -lwm2m.fleet=10000 -v
// for the full figure.
func TestFleetFootprint(t *testing.T) {
	n := *fleetSize
	s := startServer(t, server.Config{MaxRegistrations: n})
	var counters coap.Counters
	modelBytes := modelHeap(t, n)
	before := footprint.Take(t)
	clients := make([]*lwm2m.Client, n)
	start := time.Now()
	fleet(t, n, func(i int) error {
		c, err := lwm2m.Start(context.Background(), lwm2m.ClientOptions{
			CoAP:     coap.Options{Addr: s.Addr(), Seed: 1, Stream: uint64(i), Counters: &counters},
			Endpoint: "fleet-" + lwm2m.Int(int64(i)).String(),
			Model:    lwm2m.NewModel(lwm2m.Config{Seed: 1, Index: uint64(i), Start: start}),
		})
		clients[i] = c
		return err
	})
	regTime := time.Since(start)
	after := footprint.Take(t)
	if got := s.Registered(); got != n {
		t.Fatalf("%d registered, want %d", got, n)
	}
	start = time.Now()
	fleet(t, n, func(i int) error {
		_, err := s.Read(context.Background(), "fleet-"+lwm2m.Int(int64(i)).String(), lwm2m.ResourcePath(3, 0, 9), lwm2m.FormatText)
		return err
	})
	readTime := time.Since(start)
	start = time.Now()
	fleet(t, n, func(i int) error { return clients[i].Close() })
	deregTime := time.Since(start)
	t.Logf("%d devices: %.0f registrations/s, %.0f reads/s, %.0f de-registrations/s", n,
		float64(n)/regTime.Seconds(), float64(n)/readTime.Seconds(), float64(n)/deregTime.Seconds())
	t.Logf("per registered device: RSS %.0f B, heap %.0f B, stack %.0f B, %.2f goroutines",
		float64(after.RSS-before.RSS)/float64(n), float64(after.Heap-before.Heap)/float64(n),
		float64(after.Stack-before.Stack)/float64(n), float64(after.Goroutines-before.Goroutines)/float64(n))
	t.Logf("of which the Model (the device's object tree): heap %.0f B", modelBytes)
	if g := float64(after.Goroutines-before.Goroutines) / float64(n); g > 1.01 {
		t.Errorf("%.2f goroutines per device, want 1 (the session's reader)", g)
	}
	if st := s.Stats(); st.Registrations != uint64(n) || st.Deregistrations != uint64(n) || st.Timeouts != 0 {
		t.Errorf("stats %+v: want %d registrations and de-registrations, no timeouts", st, n)
	}
}

// fleet runs f for 0..n-1 on 32 goroutines, failing t on the first error.
func fleet(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	var once sync.Once
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { t.Errorf("device %d: %v", i, err) })
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// modelHeap returns the heap one device's Model takes, from n of them.
func modelHeap(t *testing.T, n int) float64 {
	before := footprint.Take(t)
	models := make([]*lwm2m.Model, n)
	for i := range models {
		models[i] = lwm2m.NewModel(lwm2m.Config{Seed: 1, Index: uint64(i), Start: time.Now()})
	}
	after := footprint.Take(t)
	runtime.KeepAlive(models)
	return float64(after.Heap-before.Heap) / float64(n)
}
