package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

func TestConnectAndClose(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			addr := br.start(t)
			rec := &recorder{}
			s := connect(t, mqtt.Options{Addr: addr, KeepAlive: 30 * time.Second}, rec)
			if err := s.Ping(); err != nil {
				t.Fatalf("Ping() = %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close() = %v, want nil", err)
			}
			if err := s.Publish(0, "a", nil, 0, false); !errors.Is(err, mqtt.ErrClosed) {
				t.Errorf("Publish after Close = %v, want ErrClosed", err)
			}
			if _, _, lost := rec.counts(); lost != 0 {
				t.Errorf("Lost called %d times after Close, want 0", lost)
			}
		})
	}
}

func TestConnackRefused(t *testing.T) {
	m := mqtttest.StartMosquitto(t, mqtttest.WithUser("dev", "s3cret"))
	tests := []struct {
		name, user, pass string
		code             byte // 0: accepted
	}{
		{"anonymous", "", "", 5},
		{"wrong password", "dev", "nope", 5},
		{"unknown user", "eve", "s3cret", 5},
		{"right password", "dev", "s3cret", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mqtt.Options{Addr: m.Addr(), ClientID: clientID("auth"), CleanSession: true, Username: tt.user, Password: tt.pass}
			s, err := mqtt.Connect(context.Background(), o, nil)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("Connect(%s/%s) = %v, want success", tt.user, tt.pass, err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Connect(%s/%s) succeeded, want CONNACK code %d", tt.user, tt.pass, tt.code)
			}
			var ce mqtt.ConnackError
			if !errors.As(err, &ce) || ce.Code != tt.code {
				t.Fatalf("Connect(%s/%s) = %v, want ConnackError{%d}", tt.user, tt.pass, err, tt.code)
			}
			if !strings.Contains(err.Error(), "connack: not authorized (5)") || ce.Kind() != "connack_not_authorized" {
				t.Errorf("error = %q kind %q, want it to name the code", err, ce.Kind())
			}
		})
	}
}

// flush publishes a sentinel and waits until seen reports it, so every
// earlier message on that topic at that QoS has had its chance to arrive.
func flush(t *testing.T, publish func(payload string), seen func(payload string) int) {
	t.Helper()
	sentinel := "sentinel-" + t.Name()
	publish(sentinel)
	eventually(t, 5*time.Second, func() bool { return seen(sentinel) == 1 }, "sentinel not delivered")
}

func TestDevicePublishQoS(t *testing.T) {
	// Mosquitto takes at most 20 unfinished QoS 2 messages from a client
	// (max_inflight_messages) and drops the next: stay under it.
	const n = 15
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			addr := br.start(t)
			_, inbox := dialBackend(t, addr, mqtt.Subscription{Topic: "up/+/data", QoS: 2})
			for qos := byte(0); qos <= 2; qos++ {
				t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
					rec := &recorder{}
					s := connect(t, mqtt.Options{Addr: addr}, rec)
					topic := fmt.Sprintf("up/q%d/data", qos)
					var want []uint16
					for i := 1; i <= n; i++ {
						id := uint16(0)
						if qos > 0 {
							id = uint16(1000 + i)
							want = append(want, id)
						}
						if err := s.Publish(id, topic, fmt.Appendf(nil, "q%d-%d", qos, i), qos, false); err != nil {
							t.Fatalf("Publish(%d) = %v", i, err)
						}
					}
					eventually(t, 5*time.Second, func() bool { a, _, _ := rec.counts(); return a == len(want) },
						"acks = %v, want %d", rec.ackedIDs(), len(want))
					flush(t, func(p string) { s.Publish(9999, topic, []byte(p), qos, false) }, inbox.count)
					got := rec.ackedIDs()[:len(want)]
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Errorf("acked ids = %v, want %v", got, want)
					}
					for i := 1; i <= n; i++ {
						p := fmt.Sprintf("q%d-%d", qos, i)
						if c := inbox.count(p); c != 1 {
							t.Errorf("backend got %q %d times, want 1", p, c)
						}
					}
				})
			}
		})
	}
}

func TestBackendCommandQoS(t *testing.T) {
	const n = 20
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			addr := br.start(t)
			b, _ := dialBackend(t, addr)
			for qos := byte(0); qos <= 2; qos++ {
				t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
					rec := &recorder{}
					topic := fmt.Sprintf("cmd/q%d", qos)
					connect(t, mqtt.Options{Addr: addr, Subscribe: []mqtt.Subscription{{Topic: topic, QoS: 2}}}, rec)
					ctx := context.Background()
					for i := 1; i <= n; i++ {
						if err := b.Publish(ctx, topic, fmt.Appendf(nil, "c%d", i), qos); err != nil {
							t.Fatalf("Backend.Publish(%d) = %v", i, err)
						}
					}
					count := func(p string) int {
						c := 0
						for _, m := range rec.messages() {
							if m.payload == p && m.topic == topic {
								c++
							}
						}
						return c
					}
					flush(t, func(p string) { b.Publish(ctx, topic, []byte(p), qos) }, count)
					for i := 1; i <= n; i++ {
						if c := count(fmt.Sprintf("c%d", i)); c != 1 {
							t.Errorf("device got c%d %d times, want 1", i, c)
						}
					}
				})
			}
		})
	}
}

func TestBrokerRestart(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	_, inbox := dialBackend(t, m.Addr(), mqtt.Subscription{Topic: "up/#", QoS: 1})
	rec := &recorder{}
	connect(t, mqtt.Options{Addr: m.Addr()}, rec)

	m.Restart()
	eventually(t, 5*time.Second, func() bool { return rec.lostErr() != nil }, "Lost not called after a broker restart")
	t.Logf("Lost(%v)", rec.lostErr())

	rec2 := &recorder{}
	s := connect(t, mqtt.Options{Addr: m.Addr()}, rec2)
	// The backend reconnects and resubscribes by itself; publish until it
	// has (a QoS 1 publish before its SUBSCRIBE is not queued for it).
	i := 0
	eventually(t, 10*time.Second, func() bool {
		i++
		s.Publish(uint16(i), "up/after", []byte("after"), 1, false)
		return inbox.count("after") > 0
	}, "backend did not receive after the restart")
	if _, _, lost := rec2.counts(); lost != 0 {
		t.Errorf("new session lost: %v", rec2.lostErr())
	}
}

func TestPingKeepsSessionAlive(t *testing.T) {
	// The window must outlast the broker's keepalive enforcement, so the
	// control session (never pings) is dropped in it: mochi enforces
	// 1.5 keepalives exactly, mosquitto 2.0 checks only every 5s or so.
	windows := map[string]time.Duration{"mochi": 3 * time.Second, "mosquitto": 7 * time.Second}
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			t.Parallel()
			addr := br.start(t)
			pinged, idle := &recorder{}, &recorder{}
			s := connect(t, mqtt.Options{Addr: addr, KeepAlive: time.Second}, pinged)
			connect(t, mqtt.Options{Addr: addr, KeepAlive: time.Second}, idle)

			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			start := time.Now()
			for now := range tick.C {
				if now.Sub(start) > windows[br.name] {
					break
				}
				if err := s.Ping(); err != nil {
					t.Fatalf("Ping() = %v", err)
				}
				if err := pinged.lostErr(); err != nil {
					t.Fatalf("pinging session lost after %v: %v", now.Sub(start), err)
				}
			}
			if idle.lostErr() == nil {
				t.Errorf("a session that never pinged is still connected after %v with a 1s keepalive", windows[br.name])
			}
		})
	}
}

func TestPingTimeoutEndsSession(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	rec := &recorder{}
	s := connect(t, mqtt.Options{Addr: m.Addr(), Timeout: 300 * time.Millisecond}, rec)
	m.Pause()
	defer m.Resume()
	if err := s.Ping(); err != nil {
		t.Fatalf("first Ping() = %v", err)
	}
	var err error
	eventually(t, 5*time.Second, func() bool { err = s.Ping(); return err != nil }, "Ping never failed against a paused broker")
	if !errors.Is(err, mqtt.ErrPingTimeout) {
		t.Fatalf("Ping() = %v, want ErrPingTimeout", err)
	}
	eventually(t, 5*time.Second, func() bool { return rec.lostErr() != nil }, "Lost not called")
	if !errors.Is(rec.lostErr(), mqtt.ErrPingTimeout) {
		t.Errorf("Lost(%v), want ErrPingTimeout", rec.lostErr())
	}
}

// TestStalledBrokerEndsSession checks that a socket taking nothing for
// Options.Timeout ends the session, while Publish itself never waits: it
// refuses what passes the send buffer.
func TestStalledBrokerEndsSession(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	rec := &recorder{}
	s := connect(t, mqtt.Options{Addr: m.Addr(), Timeout: 300 * time.Millisecond, SendBuffer: 1 << 20}, rec)
	m.Pause()
	defer m.Resume()
	payload := make([]byte, 256<<10)
	var err error
	// Socket buffers take a few MiB; 400 x 256 KiB is far more.
	for i := 0; i < 400 && err == nil; i++ {
		err = s.Publish(0, "big", payload, 0, false)
	}
	var full mqtt.SendBufferFullError
	if !errors.As(err, &full) || full.Kind() != "send_buffer_full" || full.Limit != 1<<20 {
		t.Fatalf("Publish to a paused broker = %v, want a SendBufferFullError at 1 MiB", err)
	}
	eventually(t, 5*time.Second, func() bool { return rec.lostErr() != nil }, "Lost not called after the write timeout")
	if err := rec.lostErr(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Lost(%v), want a write deadline", err)
	}
	if err := s.Publish(0, "big", nil, 0, false); err == nil || errors.As(err, &full) {
		t.Errorf("Publish after the session ended = %v, want its cause", err)
	}
}
