package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// dialShared opens a Backend with n connections that t.Cleanup closes.
func dialShared(t testing.TB, addr string, n int) *mqtt.Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := mqtt.BackendOptions{Options: mqtt.Options{Addr: addr, ClientID: clientID("backend"), CleanSession: true},
		Connections: n}
	b, err := mqtt.DialBackend(ctx, o, quietLog(t))
	if err != nil {
		t.Fatalf("DialBackend(%s, %d connections) = %v", addr, n, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestBackendSharedSubscriptions checks that both brokers take a 3.1.1
// client's $share/ subscriptions and hand each message to one of the
// backend's connections, using all of them.
func TestBackendSharedSubscriptions(t *testing.T) {
	const conns, msgs = 3, 300
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			addr := br.start(t)
			b := dialShared(t, addr, conns)
			if got := b.Connections(); got != conns {
				t.Errorf("Connections() = %d, want %d", got, conns)
			}
			in := newInbox(t)
			ctx := context.Background()
			if err := b.Subscribe(ctx, []mqtt.Subscription{{Topic: "up/+", QoS: 1}}, in.deliver); err != nil {
				t.Fatalf("Subscribe() = %v", err)
			}
			s := connect(t, mqtt.Options{Addr: addr}, &recorder{})
			for i := range msgs {
				if err := s.Publish(uint16(i+1), "up/a", fmt.Appendf(nil, "m%d", i), 1, false); err != nil {
					t.Fatalf("Publish(%d) = %v", i, err)
				}
			}
			eventually(t, 10*time.Second, func() bool { return in.len() >= msgs }, "backend got %d of %d", in.len(), msgs)
			flush(t, func(p string) { s.Publish(1, "up/a", []byte(p), 1, false) }, in.count)
			for i := range msgs {
				if c := in.count(fmt.Sprintf("m%d", i)); c != 1 {
					t.Errorf("message m%d delivered %d times, want once", i, c)
				}
			}
			per := b.Delivered()
			t.Logf("messages per connection: %v", per)
			if slices.Contains(per, 0) {
				t.Errorf("Delivered() = %v: the broker did not spread messages over every connection", per)
			}
		})
	}
}

// TestBackendManyFilters subscribes one exact filter per device of a large
// fleet sample, more than one SUBSCRIBE can carry, and routes by them.
func TestBackendManyFilters(t *testing.T) {
	const filters = 100_000
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			addr := br.start(t)
			b := dialShared(t, addr, 2)
			subs := make([]mqtt.Subscription, filters)
			for i := range subs {
				subs[i] = mqtt.Subscription{Topic: fmt.Sprintf("fleet/%06d/up", i), QoS: 1}
			}
			sampled, down := newInbox(t), newInbox(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			if err := b.Subscribe(ctx, subs, sampled.deliver); err != nil {
				t.Fatalf("Subscribe(%d filters) = %v", filters, err)
			}
			t.Logf("subscribed %d filters on 2 connections in %v", filters, time.Since(start))
			// Not overlapping the first group's: a broker sends a message
			// once per matching subscription.
			if err := b.Subscribe(ctx, []mqtt.Subscription{{Topic: "fleet/+/down", QoS: 1}}, down.deliver); err != nil {
				t.Fatalf("Subscribe(fleet/+/down) = %v", err)
			}
			s := connect(t, mqtt.Options{Addr: addr}, &recorder{})
			for i, topic := range []string{"fleet/000000/up", "fleet/099999/up", "fleet/100000/up", "fleet/000001/down"} {
				if err := s.Publish(uint16(i+1), topic, []byte(topic), 1, false); err != nil {
					t.Fatal(err)
				}
			}
			flush(t, func(p string) { s.Publish(9, "fleet/000002/down", []byte(p), 1, false) }, down.count)
			for _, want := range []struct {
				in    *backendInbox
				topic string
				n     int
			}{
				{sampled, "fleet/000000/up", 1}, {sampled, "fleet/099999/up", 1}, {sampled, "fleet/100000/up", 0},
				{sampled, "fleet/000001/down", 0}, {down, "fleet/000001/down", 1},
			} {
				if c := want.in.count(want.topic); c != want.n {
					t.Errorf("%s delivered %d times, want %d", want.topic, c, want.n)
				}
			}
		})
	}
}

// TestBackendPublishWindows checks that Publish uses every connection's
// window of 20 unacknowledged messages, then waits within its context.
func TestBackendPublishWindows(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	b := dialShared(t, m.Addr(), 2)
	m.Pause() // no PUBACK comes back
	defer m.Resume()
	ctx := context.Background()
	for i := range 40 {
		if err := b.Publish(ctx, "cmd/x", []byte("c"), 1); err != nil {
			t.Fatalf("Publish(%d) = %v with room in a window", i, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := b.Publish(short, "cmd/x", []byte("c"), 1)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for acks") {
		t.Fatalf("Publish with both windows full = %v, want a deadline waiting for acks", err)
	}
	if err := b.Publish(ctx, "cmd/x", []byte("q0"), 0); err != nil {
		t.Errorf("QoS 0 Publish with the windows full = %v, want nil (QoS 0 takes no slot)", err)
	}
}

// TestBackendSharedReconnect checks that each connection reconnects and
// resubscribes on its own, and that Publish waits (within ctx) while all
// are down.
func TestBackendSharedReconnect(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	b := dialShared(t, m.Addr(), 3)
	in := newInbox(t)
	ctx := context.Background()
	if err := b.Subscribe(ctx, []mqtt.Subscription{{Topic: "up/#", QoS: 1}}, in.deliver); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	eventually(t, 5*time.Second, func() bool {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := b.Publish(short, "a", []byte("x"), 1)
		return errors.Is(err, context.DeadlineExceeded) && strings.Contains(err.Error(), "waiting for a connection")
	}, "Publish did not wait for a connection while the broker was down")
	m.Restart()
	s := connect(t, mqtt.Options{Addr: m.Addr()}, &recorder{})
	// Publish until every connection has resubscribed and received some.
	i := 0
	eventually(t, 15*time.Second, func() bool {
		for range 30 {
			i++
			s.Publish(uint16(i%60000+1), "up/after", []byte("after"), 1, false)
		}
		return !slices.Contains(b.Delivered(), 0)
	}, "not every connection resubscribed: %v", b.Delivered())
	long, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Publish(long, "cmd/y", []byte("again"), 1); err != nil {
		t.Fatalf("Publish after the restart = %v", err)
	}
}

// TestBackendDeliverConcurrently checks that deliver may be called from
// every connection's goroutine at once, and nothing is lost meanwhile.
func TestBackendDeliverConcurrently(t *testing.T) {
	addr := mqtttest.StartMochi(t)
	b := dialShared(t, addr, 4)
	var mu sync.Mutex
	seen := map[string]int{}
	deliver := func(topic string, payload []byte, _ time.Time) {
		mu.Lock()
		seen[string(payload)]++
		mu.Unlock()
	}
	if err := b.Subscribe(context.Background(), []mqtt.Subscription{{Topic: "c/#", QoS: 1}}, deliver); err != nil {
		t.Fatal(err)
	}
	const devices, each = 8, 100
	var wg sync.WaitGroup
	for d := range devices {
		s := connect(t, mqtt.Options{Addr: addr}, &recorder{})
		wg.Go(func() {
			for j := range each {
				s.Publish(uint16(j+1), fmt.Sprintf("c/%d", d), fmt.Appendf(nil, "%d-%d", d, j), 1, false)
			}
		})
	}
	wg.Wait()
	distinct := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	eventually(t, 10*time.Second, func() bool { return distinct() == devices*each },
		"delivered %d distinct of %d", distinct(), devices*each)
}
