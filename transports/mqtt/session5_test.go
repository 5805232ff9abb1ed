package mqtt_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// countingConn counts the bytes that cross a connection each way. It is
// not a *net.TCPConn, so sessions write to it through their flusher.
type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

// counting returns a dialer whose connections add to in and out.
func counting(in, out *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, in: in, out: out}, nil
	}
}

// settled returns the bytes a new session has written once its CONNECT
// is counted: the flusher that writes it may count it after CONNACK
// arrives and Connect returns.
func settled(t testing.TB, wr *atomic.Int64) int64 {
	t.Helper()
	eventually(t, 5*time.Second, func() bool { return wr.Load() > 0 }, "CONNECT not counted")
	return wr.Load()
}

// dialBackend5 opens an MQTT 5 Backend subscribed to subs.
func dialBackend5(t testing.TB, o mqtt.Options, conns int, subs ...mqtt.Subscription) (*mqtt.Backend, *backendInbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o.ClientID, o.CleanSession, o.ProtocolVersion = clientID("backend5"), true, mqtt.V5
	b, err := mqtt.DialBackend(ctx, mqtt.BackendOptions{Options: o, Connections: conns}, quietLog(t))
	if err != nil {
		t.Fatalf("DialBackend(%s) = %v", o.Addr, err)
	}
	t.Cleanup(func() { b.Close() })
	in := newInbox(t)
	if err := b.Subscribe(ctx, subs, in.deliver); err != nil {
		t.Fatalf("Subscribe(%v) = %v", subs, err)
	}
	return b, in
}

// TestV5RoundTrip publishes at every QoS from an MQTT 5 device, with
// topic aliases, to an MQTT 5 backend, and sends it a command back.
func TestV5RoundTrip(t *testing.T) {
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			addr := br.start(t)
			b, in := dialBackend5(t, mqtt.Options{Addr: addr, V5: mqtt.V5Options{TopicAliases: 4}}, 1,
				mqtt.Subscription{Topic: "v5/+/up", QoS: 1})
			rec := &recorder{}
			id := clientID("dev5")
			s := connect(t, mqtt.Options{Addr: addr, ClientID: id, ProtocolVersion: mqtt.V5,
				Subscribe: []mqtt.Subscription{{Topic: "v5/" + id + "/cmd", QoS: 1}},
				V5: mqtt.V5Options{TopicAliases: 4, MessageExpiry: time.Minute, SessionExpiry: time.Minute,
					UserProperties: []mqtt.UserProperty{{Key: "fleet", Value: "m2msim"}}}}, rec)
			for i := range 6 {
				qos := byte(i % 3)
				if err := s.Publish(uint16(i+1), "v5/"+id+"/up", []byte("m"+strconv.Itoa(i)), qos, false); err != nil {
					t.Fatalf("Publish(%d) = %v", i, err)
				}
			}
			eventually(t, 10*time.Second, func() bool { return in.len() == 6 }, "backend got %d of 6", in.len())
			for _, m := range in.msgs {
				if m.topic != "v5/"+id+"/up" {
					t.Errorf("backend got topic %q", m.topic)
				}
			}
			eventually(t, 10*time.Second, func() bool { a, _, _ := rec.counts(); return a == 4 }, "acked %v, want the 4 QoS 1 and 2", rec.ackedIDs())
			if err := b.Publish(context.Background(), "v5/"+id+"/cmd", []byte("reboot"), 1); err != nil {
				t.Fatalf("backend Publish = %v", err)
			}
			eventually(t, 10*time.Second, func() bool { _, m, _ := rec.counts(); return m == 1 }, "device got no command")
			if m := rec.messages()[0]; m != (message{"v5/" + id + "/cmd", "reboot"}) {
				t.Errorf("device got %v", m)
			}
		})
	}
}

// TestV5TopicAliasesOnTheWire counts the bytes a device writes: with
// aliases, a long topic crosses the wire once, and the broker still
// delivers every message under it; a broker that allows no aliases gets
// the topic every time.
func TestV5TopicAliasesOnTheWire(t *testing.T) {
	const n = 20
	topic := "v5/aliases/" + strings.Repeat("t", 200)
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			addr := br.start(t)
			_, in := dialBackend5(t, mqtt.Options{Addr: addr}, 1, mqtt.Subscription{Topic: "v5/aliases/#", QoS: 1})
			sent := map[uint16]int{}
			for _, aliases := range []uint16{0, 4} {
				var rd, wr atomic.Int64
				rec := &recorder{}
				s := connect(t, mqtt.Options{Addr: addr, Dial: counting(&rd, &wr), ProtocolVersion: mqtt.V5,
					V5: mqtt.V5Options{TopicAliases: aliases}}, rec)
				before := settled(t, &wr)
				for i := range n {
					if err := s.Publish(uint16(i+1), topic, []byte("x"), 1, false); err != nil {
						t.Fatalf("Publish = %v", err)
					}
				}
				eventually(t, 10*time.Second, func() bool { a, _, _ := rec.counts(); return a == n }, "acked %d of %d", len(rec.ackedIDs()), n)
				sent[aliases] = int(wr.Load() - before)
			}
			eventually(t, 10*time.Second, func() bool { return in.len() == 2*n }, "backend got %d of %d", in.len(), 2*n)
			for _, m := range in.msgs {
				if m.topic != topic {
					t.Fatalf("backend got topic %q, want the full topic", m.topic)
				}
			}
			// Without: 20 x (2+2+200+2+1+1+1) bytes. With: the topic once.
			// mochi 2.7.9 sends no Topic Alias Maximum in CONNACK, which
			// means it takes no aliases, so none are used with it.
			if br.name == "mochi" && sent[4] != sent[0] {
				t.Errorf("PUBLISH bytes without aliases %d, with %d: mochi allows none, want the same", sent[0], sent[4])
			}
			if br.name != "mochi" && (sent[0] < n*len(topic) || sent[4] > 2*len(topic)+n*20) {
				t.Errorf("PUBLISH bytes without aliases %d, with %d: want the topic on the wire %d times, then once",
					sent[0], sent[4], n)
			}
		})
	}
}

// TestV5BackendResolvesAliases has mochi, which uses the topic aliases a
// client allows, send a backend its messages through aliases.
func TestV5BackendResolvesAliases(t *testing.T) {
	const n = 20
	topic := "v5/in/" + strings.Repeat("t", 200)
	addr := mqtttest.StartMochi(t)
	counts := map[uint16]int{}
	for _, aliases := range []uint16{0, 8} {
		var rd, wr atomic.Int64
		_, in := dialBackend5(t, mqtt.Options{Addr: addr, Dial: counting(&rd, &wr), V5: mqtt.V5Options{TopicAliases: aliases}},
			1, mqtt.Subscription{Topic: "v5/in/#", QoS: 0})
		before := rd.Load()
		s := connect(t, mqtt.Options{Addr: addr, ProtocolVersion: mqtt.V5}, nil)
		for range n {
			if err := s.Publish(0, topic, []byte("x"), 0, false); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 10*time.Second, func() bool { return in.len() == n }, "backend got %d of %d", in.len(), n)
		for _, m := range in.msgs {
			if m.topic != topic {
				t.Fatalf("backend got topic %q, want the full topic", m.topic)
			}
		}
		counts[aliases] = int(rd.Load() - before)
		s.Close()
	}
	if counts[0] < n*len(topic) || counts[8] > 2*len(topic)+n*20 {
		t.Errorf("backend read %d bytes without aliases, %d with: want the topic %d times, then once", counts[0], counts[8], n)
	}
}

// TestV5ReceiveMaximum stops Mosquitto (max_inflight_messages 2, which it
// advertises as its Receive Maximum) and publishes 10 QoS 1 messages:
// only 2 may go on the wire until PUBACKs come back.
func TestV5ReceiveMaximum(t *testing.T) {
	m := mqtttest.StartMosquitto(t, mqtttest.WithConfig("max_inflight_messages 2"))
	var rd, wr atomic.Int64
	rec := &recorder{}
	s := connect(t, mqtt.Options{Addr: m.Addr(), Dial: counting(&rd, &wr), ProtocolVersion: mqtt.V5}, rec)
	m.Pause()
	resumed := false
	defer func() {
		if !resumed {
			m.Resume()
		}
	}()
	before := settled(t, &wr)
	const size = 2 + 2 + 1 + 2 + 1 + 1 // header, "t", id, no properties, payload "p"
	for id := uint16(1); id <= 10; id++ {
		if err := s.Publish(id, "t", []byte("p"), 1, false); err != nil {
			t.Fatalf("Publish(%d) = %v", id, err)
		}
	}
	eventually(t, 5*time.Second, func() bool { return wr.Load()-before >= 2*size }, "the first 2 not written")
	time.Sleep(100 * time.Millisecond) // give a wrong session the time to write more
	if got := wr.Load() - before; got != 2*size {
		t.Errorf("wrote %d bytes while the broker held 2 unacknowledged, want %d (2 PUBLISHes)", got, 2*size)
	}
	m.Resume()
	resumed = true
	eventually(t, 10*time.Second, func() bool { a, _, _ := rec.counts(); return a == 10 }, "acked %v, want 10", rec.ackedIDs())
}

// TestV5ConnackNotAuthorized connects anonymously to a Mosquitto that
// wants a password.
func TestV5ConnackNotAuthorized(t *testing.T) {
	m := mqtttest.StartMosquitto(t, mqtttest.WithUser("dev", "s3cret"))
	for _, tt := range []struct {
		user, pass string
		code       byte
	}{{"", "", 0x87}, {"dev", "nope", 0x87}} { // Mosquitto 2.0.11 says 0x87 for both
		o := mqtt.Options{Addr: m.Addr(), ClientID: clientID("auth5"), ProtocolVersion: mqtt.V5, Username: tt.user, Password: tt.pass}
		s, err := mqtt.Connect(context.Background(), o, nil)
		if err == nil {
			s.Close()
			t.Fatalf("Connect(%q/%q) succeeded", tt.user, tt.pass)
		}
		var rc mqtt.ReasonCodeError
		if !errors.As(err, &rc) || rc.Code != tt.code || rc.Packet != 2 {
			t.Errorf("Connect(%q/%q) = %v, want a CONNACK ReasonCodeError 0x%02x", tt.user, tt.pass, err, tt.code)
		}
	}
}

// TestV5ServerDisconnect has the broker end a session with a DISCONNECT
// and checks that Lost carries its reason: mochi when a second session
// takes the first's client id over (0x8e; Mosquitto 2.0.11 just closes
// the old connection), Mosquitto when a PUBLISH passes its
// max_packet_size (0x95).
func TestV5ServerDisconnect(t *testing.T) {
	tests := []struct {
		name  string
		start func(t testing.TB) string
		act   func(t *testing.T, addr string, s *mqtt.Session)
		code  byte
	}{
		{"mochi session taken over", mqtttest.StartMochi, func(t *testing.T, addr string, s *mqtt.Session) {
			connect(t, mqtt.Options{Addr: addr, ClientID: "twin", ProtocolVersion: mqtt.V5}, nil)
		}, 0x8e},
		{"mosquitto packet too large", func(t testing.TB) string {
			return mqtttest.StartMosquitto(t, mqtttest.WithConfig("max_packet_size 100")).Addr()
		}, func(t *testing.T, _ string, s *mqtt.Session) {
			if err := s.Publish(1, "big", make([]byte, 200), 1, false); err != nil {
				t.Fatal(err)
			}
		}, 0x95},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.start(t)
			rec := &recorder{}
			s := connect(t, mqtt.Options{Addr: addr, ClientID: "twin", ProtocolVersion: mqtt.V5}, rec)
			tt.act(t, addr, s)
			eventually(t, 10*time.Second, func() bool { return rec.lostErr() != nil }, "session not ended")
			err := rec.lostErr()
			var rc mqtt.ReasonCodeError
			if !errors.As(err, &rc) || rc.Code != tt.code || rc.Packet != 14 || !errors.Is(err, mqtt.ErrServerDisconnect) {
				t.Errorf("Lost(%v), want a DISCONNECT ReasonCodeError 0x%02x", err, tt.code)
			}
		})
	}
}

// TestV5SharedSubscriptions spreads an MQTT 5 fleet's messages over
// three backend connections.
func TestV5SharedSubscriptions(t *testing.T) {
	const n = 60
	for _, br := range brokers {
		t.Run(br.name, func(t *testing.T) {
			addr := br.start(t)
			b, in := dialBackend5(t, mqtt.Options{Addr: addr, V5: mqtt.V5Options{TopicAliases: 8}}, 3,
				mqtt.Subscription{Topic: "v5/shared/+", QoS: 1})
			rec := &recorder{}
			s := connect(t, mqtt.Options{Addr: addr, ProtocolVersion: mqtt.V5, V5: mqtt.V5Options{TopicAliases: 8}}, rec)
			for i := range n {
				if err := s.Publish(uint16(i+1), "v5/shared/"+strconv.Itoa(i%5), []byte("p"), 1, false); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 10*time.Second, func() bool { return in.len() == n }, "backend got %d of %d", in.len(), n)
			busy := 0
			for _, d := range b.Delivered() {
				if d > 0 {
					busy++
				}
			}
			if busy < 2 {
				t.Errorf("deliveries per connection %v: want the broker to share them", b.Delivered())
			}
		})
	}
}

// reasonRecorder is a recorder that takes MQTT 5 acknowledgement reasons.
type reasonRecorder struct {
	recorder
	codes chan mqtt.ReasonCodeError
}

func (r *reasonRecorder) AckReason(_ uint16, err mqtt.ReasonCodeError) { r.codes <- err }

// TestV5NoMatchingSubscribers publishes where nobody listens: Mosquitto
// acknowledges with 0x10, which is not a failure.
func TestV5NoMatchingSubscribers(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	rec := &reasonRecorder{codes: make(chan mqtt.ReasonCodeError, 1)}
	s := connect(t, mqtt.Options{Addr: m.Addr(), ProtocolVersion: mqtt.V5}, rec)
	if err := s.Publish(1, "nobody/listens", []byte("p"), 1, false); err != nil {
		t.Fatal(err)
	}
	select {
	case rc := <-rec.codes:
		if rc.Code != 0x10 || rc.Packet != 4 || rc.Failed() {
			t.Errorf("AckReason(%v), want PUBACK 0x10, not failed", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no AckReason; acked %v", rec.ackedIDs())
	}
}
