package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// ackWaiter is a Handler whose Acked feeds a channel, so a device can
// keep one message in flight, as real devices do.
type ackWaiter struct {
	recorder
	acks chan uint16
}

func (a *ackWaiter) Acked(id uint16) { a.recorder.Acked(id); a.acks <- id }

// TestConcurrentSessions runs 200 sessions that publish QoS 1 while the
// backend sends each of them QoS 1 commands, so every session's reader
// writes PUBACKs while its publisher writes PUBLISHes.
func TestConcurrentSessions(t *testing.T) {
	const sessions, each = 200, 25
	br, err := broker.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() }) // after the sessions' and backend's cleanups
	addr := br.Addr()
	b, inbox := dialBackend(t, addr, mqtt.Subscription{Topic: "load/+", QoS: 1})
	devs := make([]*ackWaiter, sessions)
	ss := make([]*mqtt.Session, sessions)
	for i := range ss {
		devs[i] = &ackWaiter{acks: make(chan uint16, each)}
		ss[i] = connect(t, mqtt.Options{Addr: addr, KeepAlive: time.Minute,
			Subscribe: []mqtt.Subscription{{Topic: fmt.Sprintf("cmd/%d", i), QoS: 1}}}, devs[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, sessions+1)
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for j := range each {
			for i := range sessions {
				if err := b.Publish(ctx, fmt.Sprintf("cmd/%d", i), fmt.Appendf(nil, "c%d", j), 1); err != nil {
					errs <- fmt.Errorf("backend Publish = %w", err)
					return
				}
			}
		}
	})
	for i, s := range ss {
		wg.Go(func() { errs <- publishInTurn(s, devs[i], i, each) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// mochi drops what a subscriber's queue cannot hold (the backend's,
	// when -race slows everything down); every message must be either
	// delivered or counted as dropped.
	received := func() int {
		n := inbox.len()
		for _, d := range devs {
			_, m, _ := d.counts()
			n += m
		}
		return n
	}
	const sent = 2 * sessions * each
	eventually(t, 10*time.Second, func() bool { return received()+int(br.Dropped()) >= sent },
		"received %d + dropped %d of %d", received(), br.Dropped(), sent)
	if got := received() + int(br.Dropped()); got != sent {
		t.Errorf("received %d + dropped %d = %d messages, want %d", received(), br.Dropped(), got, sent)
	}
	t.Logf("backend received %d of %d; broker dropped %d", inbox.len(), sessions*each, br.Dropped())
	for i, d := range devs {
		if err := d.lostErr(); err != nil {
			t.Errorf("session %d lost: %v", i, err)
		}
	}
}

// publishInTurn publishes n QoS 1 messages, each after the previous one's
// PUBACK.
func publishInTurn(s *mqtt.Session, d *ackWaiter, dev, n int) error {
	for j := 1; j <= n; j++ {
		if err := s.Publish(uint16(j), fmt.Sprintf("load/%d", dev), fmt.Appendf(nil, "%d-%d", dev, j), 1, false); err != nil {
			return fmt.Errorf("session %d: Publish(%d) = %w", dev, j, err)
		}
		select {
		case id := <-d.acks:
			if id != uint16(j) {
				return fmt.Errorf("session %d: Acked(%d), want %d", dev, id, j)
			}
		case <-time.After(10 * time.Second):
			return fmt.Errorf("session %d: no PUBACK for %d", dev, j)
		}
	}
	return nil
}

func TestBackendRoutesBySubscription(t *testing.T) {
	addr := mqtttest.StartMochi(t)
	b, all := dialBackend(t, addr, mqtt.Subscription{Topic: "#", QoS: 1})
	temps := newInbox(t)
	ctx := context.Background()
	if err := b.Subscribe(ctx, []mqtt.Subscription{{Topic: "temp/+", QoS: 1}, {Topic: "temp/+/x", QoS: 1}}, temps.deliver); err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	s := connect(t, mqtt.Options{Addr: addr}, &recorder{})
	for i, topic := range []string{"temp/a", "hum/a", "temp/b/x", "temp/c"} {
		if err := s.Publish(uint16(i+1), topic, []byte(topic), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, func() bool { return all.len() == 4 && temps.len() == 3 },
		"# got %d of 4, temp/+ got %d of 3", all.len(), temps.len())
	for _, topic := range []string{"temp/a", "temp/b/x", "temp/c"} {
		if c := temps.count(topic); c != 1 {
			t.Errorf("temp group got %q %d times, want 1", topic, c)
		}
	}
	if c := temps.count("hum/a"); c != 0 {
		t.Errorf("temp group got hum/a %d times, want 0", c)
	}
}

func TestBackendArguments(t *testing.T) {
	addr := mqtttest.StartMochi(t)
	ctx := context.Background()
	if _, err := mqtt.DialBackend(ctx, mqtt.BackendOptions{Options: mqtt.Options{Addr: addr, Subscribe: []mqtt.Subscription{{Topic: "a"}}}}, nil); !errors.Is(err, mqtt.ErrInvalid) {
		t.Errorf("DialBackend with Options.Subscribe = %v, want ErrInvalid", err)
	}
	if _, err := mqtt.DialBackend(ctx, mqtt.BackendOptions{Options: mqtt.Options{Addr: addr}, Connections: 2, ShareGroup: "a/b"}, nil); !errors.Is(err, mqtt.ErrInvalid) {
		t.Errorf("DialBackend with share group a/b = %v, want ErrInvalid", err)
	}
	b, _ := dialBackend(t, addr)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"Subscribe without subs", b.Subscribe(ctx, nil, func(string, []byte, time.Time) {}), mqtt.ErrInvalid},
		{"Subscribe without deliver", b.Subscribe(ctx, []mqtt.Subscription{{Topic: "a"}}, nil), mqtt.ErrInvalid},
		{"Subscribe qos 3", b.Subscribe(ctx, []mqtt.Subscription{{Topic: "a", QoS: 3}}, func(string, []byte, time.Time) {}), mqtt.ErrInvalid},
		{"Publish wildcard", b.Publish(ctx, "a/#", nil, 0), mqtt.ErrInvalid},
		{"Publish qos 3", b.Publish(ctx, "a", nil, 3), mqtt.ErrInvalid},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := b.Publish(ctx, "a", nil, 1); !errors.Is(err, mqtt.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

func TestBackendWaitsForReconnect(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	b, _ := dialBackend(t, m.Addr())
	m.Stop()
	// While the broker is down, Publish waits for the reconnect within
	// its context.
	eventually(t, 5*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		return errors.Is(b.Publish(ctx, "a", []byte("x"), 0), context.DeadlineExceeded)
	}, "Publish did not wait for the lost connection")
	m.Restart()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := &recorder{}
	connect(t, mqtt.Options{Addr: m.Addr(), Subscribe: []mqtt.Subscription{{Topic: "back", QoS: 1}}}, rec)
	if err := b.Publish(ctx, "back", []byte("again"), 1); err != nil {
		t.Fatalf("Publish after the restart = %v", err)
	}
	eventually(t, 5*time.Second, func() bool { _, n, _ := rec.counts(); return n == 1 }, "device did not get the command")
}

// Once a broker that was down for a while is back, the backend is back
// within about one capped backoff: with a 2 s cap and doubling from 50 ms
// it had stayed away another 1.1 s after a 2 s restart, and every
// device's message in that second was counted lost.
func TestBackendBackSoonAfterALongOutage(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	b, _ := dialBackend(t, m.Addr())
	m.Stop()
	time.Sleep(2 * time.Second) // long enough for the backoff to reach its cap
	m.Restart()
	back := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Publish(ctx, "back", []byte("again"), 0); err != nil {
		t.Fatalf("Publish after the restart = %v", err)
	}
	const backoffCap = 250 * time.Millisecond
	if away := time.Since(back); away > backoffCap+500*time.Millisecond {
		t.Fatalf("the backend was back %v after the broker, want within about %v (its backoff cap)", away, backoffCap)
	}
}
