package mqtt_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
)

// w5 is an MQTT 5 fixture shared with the codec tests.
func w5(name string) string {
	h, ok := mqtt.Wire5[name]
	if !ok {
		panic("no MQTT 5 fixture " + name)
	}
	return h
}

// recorder5 is a recorder that also takes MQTT 5 acknowledgement reasons.
type recorder5 struct {
	recorder
	mu      sync.Mutex
	reasons []mqtt.ReasonCodeError
	ids     []uint16
}

func (r *recorder5) AckReason(id uint16, err mqtt.ReasonCodeError) {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.reasons = append(r.reasons, err)
	r.mu.Unlock()
}

func (r *recorder5) got() ([]uint16, []mqtt.ReasonCodeError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint16(nil), r.ids...), append([]mqtt.ReasonCodeError(nil), r.reasons...)
}

// v5Opts are the options of the scripted MQTT 5 sessions.
func v5Opts(addr string) mqtt.Options {
	return mqtt.Options{Addr: addr, ClientID: "d", ProtocolVersion: mqtt.V5, Timeout: 5 * time.Second,
		V5: mqtt.V5Options{TopicAliases: 8, MessageExpiry: 30 * time.Second}}
}

func TestWire5Connect(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: w5("connect")}, step{send: w5("connack")})
	o := mqtt.Options{Addr: addr, ClientID: "d1", KeepAlive: time.Minute, CleanSession: true, ProtocolVersion: mqtt.V5,
		V5: mqtt.V5Options{SessionExpiry: time.Hour, ReceiveMaximum: 16, TopicAliases: 8,
			UserProperties: []mqtt.UserProperty{{Key: "k", Value: "v"}}}}
	s, err := mqtt.Connect(context.Background(), o, nil)
	if err != nil {
		connectFailed(t, err, res)
	}
	wait(t, res)
	s.Close()
}

func TestWire5OutboundAliasesAndReasons(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: w5("connack")},
		step{expect: w5("publish alias set")},
		step{send: w5("puback no subscribers"), expect: w5("publish alias used")},
		step{send: "4009" + "0008" + "87" + "05" + "1f00026e6f"}, // PUBACK id 8: 0x87 not authorized
	)
	rec := &recorder5{}
	s, err := mqtt.Connect(context.Background(), v5Opts(addr), rec)
	if err != nil {
		connectFailed(t, err, res)
	}
	defer s.Close()
	if err := s.Publish(7, "a/b", []byte("hi!"), 1, false); err != nil {
		t.Fatalf("Publish(7) = %v", err)
	}
	eventually(t, 5*time.Second, func() bool { ids, _ := rec.got(); return len(ids) == 1 }, "no AckReason for id 7")
	if err := s.Publish(8, "a/b", []byte("hi!"), 1, false); err != nil {
		t.Fatalf("Publish(8) = %v", err)
	}
	wait(t, res)
	eventually(t, 5*time.Second, func() bool { ids, _ := rec.got(); return len(ids) == 2 }, "no AckReason for id 8")
	ids, reasons := rec.got()
	want := []mqtt.ReasonCodeError{{Packet: 4, Code: 0x10}, {Packet: 4, Code: 0x87, Reason: "no"}}
	if ids[0] != 7 || ids[1] != 8 || reasons[0] != want[0] || reasons[1] != want[1] {
		t.Errorf("AckReason calls %v %v, want [7 8] %v", ids, reasons, want)
	}
	if reasons[0].Failed() || !reasons[1].Failed() {
		t.Errorf("Failed() = %v, %v; want false, true", reasons[0].Failed(), reasons[1].Failed())
	}
	if a, _, _ := rec.counts(); a != 0 {
		t.Errorf("Acked called %d times; reasons go to AckReason", a)
	}
}

func TestWire5ReceiveMaximum(t *testing.T) {
	pub := func(id string) string { return "320c" + "0001" + "74" + id + "05" + "020000001e" + "70" }
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: "2006" + "0000" + "03" + "210001"}, // receive maximum 1
		step{expect: pub("0001")},
		step{send: "40020001", expect: pub("0002")}, // only the PUBACK lets the second out
		step{send: "40020002"},
	)
	o := v5Opts(addr)
	o.V5.TopicAliases = 0
	rec := &recorder{}
	s, err := mqtt.Connect(context.Background(), o, rec)
	if err != nil {
		connectFailed(t, err, res)
	}
	defer s.Close()
	for id := uint16(1); id <= 2; id++ {
		if err := s.Publish(id, "t", []byte("p"), 1, false); err != nil {
			t.Fatalf("Publish(%d) = %v", id, err)
		}
	}
	wait(t, res)
	eventually(t, 5*time.Second, func() bool { a, _, _ := rec.counts(); return a == 2 }, "acked %v, want [1 2]", rec.ackedIDs())
}

func TestWire5InboundAliases(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: w5("connack")},
		step{send: w5("publish alias set"), expect: "40020007"},
		step{send: w5("publish alias used"), expect: "40020008"},
	)
	rec := &recorder{}
	s, err := mqtt.Connect(context.Background(), v5Opts(addr), rec)
	if err != nil {
		connectFailed(t, err, res)
	}
	defer s.Close()
	wait(t, res)
	eventually(t, 5*time.Second, func() bool { _, m, _ := rec.counts(); return m == 2 }, "messages %v", rec.messages())
	for _, m := range rec.messages() {
		if m != (message{"a/b", "hi!"}) {
			t.Errorf("message %v, want a/b hi! (through the alias)", m)
		}
	}
}

func TestWire5UnknownAliasEndsSession(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: w5("connack")}, step{send: w5("publish alias used")})
	rec := &recorder{}
	s, err := mqtt.Connect(context.Background(), v5Opts(addr), rec)
	if err != nil {
		connectFailed(t, err, res)
	}
	defer s.Close()
	wait(t, res)
	eventually(t, 5*time.Second, func() bool { return rec.lostErr() != nil }, "Lost not called")
	var pe mqtt.ProtocolError
	if err := rec.lostErr(); !errors.As(err, &pe) {
		t.Errorf("Lost(%v), want a ProtocolError", err)
	}
}

func TestWire5ConnackRefused(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: w5("connack not authorized")})
	_, err := mqtt.Connect(context.Background(), v5Opts(addr), nil)
	var rc mqtt.ReasonCodeError
	if !errors.As(err, &rc) || rc.Code != 0x87 || rc.Packet != 2 || rc.Reason != "no" ||
		rc.Kind() != "mqtt_reason_0x87_not_authorized" {
		t.Fatalf("Connect() = %v, want ReasonCodeError 0x87", err)
	}
	wait(t, res)
}

func TestWire5ServerDisconnect(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: w5("connack") + w5("disconnect taken over")})
	rec := &recorder{}
	s, err := mqtt.Connect(context.Background(), v5Opts(addr), rec)
	if err != nil {
		connectFailed(t, err, res)
	}
	defer s.Close()
	wait(t, res)
	eventually(t, 5*time.Second, func() bool { return rec.lostErr() != nil }, "Lost not called")
	err = rec.lostErr()
	var rc mqtt.ReasonCodeError
	if !errors.As(err, &rc) || rc.Code != 0x8e || !errors.Is(err, mqtt.ErrServerDisconnect) {
		t.Errorf("Lost(%v), want ErrServerDisconnect with reason 0x8e", err)
	}
}

func TestWire5SubackRefused(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: w5("connack"), expect: "*"}, step{send: w5("suback")})
	o := v5Opts(addr)
	o.Subscribe = []mqtt.Subscription{{Topic: "ok", QoS: 1}, {Topic: "denied", QoS: 1}}
	_, err := mqtt.Connect(context.Background(), o, nil)
	var se mqtt.SubackError
	var rc mqtt.ReasonCodeError
	if !errors.As(err, &se) || se.Topic != "denied" || !errors.As(err, &rc) || rc.Code != 0x87 {
		t.Fatalf("Connect() = %v, want SubackError for \"denied\" with reason 0x87", err)
	}
	wait(t, res)
}

func TestOptionsProtocolVersion(t *testing.T) {
	_, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: "127.0.0.1:1", ProtocolVersion: 3}, nil)
	if !errors.Is(err, mqtt.ErrInvalid) {
		t.Errorf("Connect(version 3) = %v, want ErrInvalid", err)
	}
}

func TestWire5MochiPubackIsSuccess(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: w5("connack")},
		step{expect: w5("publish alias set")}, step{send: w5("puback mochi")})
	rec := &recorder5{}
	s, err := mqtt.Connect(context.Background(), v5Opts(addr), rec)
	if err != nil {
		connectFailed(t, err, res)
	}
	defer s.Close()
	if err := s.Publish(7, "a/b", []byte("hi!"), 1, false); err != nil {
		t.Fatal(err)
	}
	wait(t, res)
	eventually(t, 5*time.Second, func() bool { a, _, _ := rec.counts(); return a == 1 }, "PUBACK 0x01 not taken as success")
	if ids, _ := rec.got(); len(ids) != 0 {
		t.Errorf("AckReason called for %v, want Acked only", ids)
	}
}
