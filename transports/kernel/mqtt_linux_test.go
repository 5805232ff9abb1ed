package kernel

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
	"github.com/m2msim/m2msim/transports/netem"
)

// ackTimer is a device's mqtt.Handler: it reports when PUBACK came.
type ackTimer struct{ acked chan time.Time }

func (a ackTimer) Acked(uint16)           { a.acked <- time.Now() }
func (a ackTimer) Message(string, []byte) {}
func (a ackTimer) Lost(error)             {}

// Mosquitto in the server namespace, 100 MQTT devices through the wire
// at 20 ms each way: every QoS 1 PUBLISH is acknowledged, one round trip
// (40 ms, plus the broker's own time) after it was sent.
func TestWireMosquitto(t *testing.T) {
	const n = 100
	d := netem.Profile{Delay: 20 * time.Millisecond}
	w := runWire(t, Config{Link: func(i int) netem.Link {
		if i >= n {
			return netem.Link{} // the broker's readiness probe
		}
		return netem.Link{Up: d, Down: d}
	}})
	b := mqtttest.StartMosquitto(t, mqtttest.WithNamespace(mqtttest.Namespace{
		Host: w.ServerAddr().String(), Start: w.Start, Listen: w.Listen, Dial: w.Dialer(n),
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rtts := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20) // Mosquitto's listen backlog is 100
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rtts[i], errs[i] = publishOnce(ctx, w, b.Addr(), i)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
	}
	p50 := median(rtts)
	t.Logf("PUBACK p50 %v over %d devices at 20 ms each way", p50, n)
	if p50 < 40*time.Millisecond || p50 > 45*time.Millisecond {
		t.Errorf("PUBACK p50 %v, want 40-45 ms (one 40 ms round trip)", p50)
	}
}

// publishOnce connects device i, publishes one QoS 1 message and returns
// how long its PUBACK took.
func publishOnce(ctx context.Context, w *Wire, addr string, i int) (time.Duration, error) {
	h := ackTimer{acked: make(chan time.Time, 1)}
	s, err := mqtt.Connect(ctx, mqtt.Options{
		Addr: addr, Dial: w.Dialer(i), ClientID: fmt.Sprintf("dev-%d", i), CleanSession: true,
		Timeout: 5 * time.Second,
	}, h)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	sent := time.Now()
	if err := s.Publish(1, fmt.Sprintf("devices/%d/up", i), []byte("21.5"), 1, false); err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	select {
	case at := <-h.acked:
		return at.Sub(sent), nil
	case <-time.After(5 * time.Second):
		return 0, fmt.Errorf("no PUBACK within 5 s")
	}
}
