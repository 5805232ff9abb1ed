package mqtt_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt"
)

// step is one move of a scripted broker: send these bytes, then (if
// expect is set) read one packet and compare it with expect.
type step struct {
	send, expect string // hex
}

const connackOK = "20020000"

// scriptedBroker plays steps on the first connection and reports the first
// deviation (or nil) on the returned channel.
func scriptedBroker(t *testing.T, steps ...step) (string, <-chan error) {
	t.Helper()
	res := make(chan error, 1)
	addr := fakeBroker(t, func(c net.Conn) {
		err := play(c, steps)
		res <- err
		if err == nil {
			readPacket(c) // hold the line until the client leaves
		}
	})
	return addr, res
}

func play(c net.Conn, steps []step) error {
	for i, s := range steps {
		if s.send != "" {
			b, _ := hex.DecodeString(s.send)
			if _, err := c.Write(b); err != nil {
				return fmt.Errorf("step %d: write: %w", i, err)
			}
		}
		if s.expect == "" {
			continue
		}
		got := hex.EncodeToString(readPacket(c))
		if s.expect != "*" && got != s.expect {
			return fmt.Errorf("step %d: client sent %s, want %s", i, got, s.expect)
		}
	}
	return nil
}

// connectFailed ends a test whose Connect failed, naming the script's
// deviation when that was the cause.
func connectFailed(t *testing.T, err error, res <-chan error) {
	t.Helper()
	select {
	case serr := <-res:
		t.Fatalf("Connect() = %v; script: %v", err, serr)
	case <-time.After(time.Second):
		t.Fatalf("Connect() = %v", err)
	}
}

func wait(t *testing.T, res <-chan error) {
	t.Helper()
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("scripted broker did not finish")
	}
}

func TestWireConnectAndSubscribe(t *testing.T) {
	tests := []struct {
		name    string
		opts    mqtt.Options
		connect string
		steps   []step
	}{
		{
			name:    "bare",
			opts:    mqtt.Options{ClientID: "d"},
			connect: "100d00044d51545404000000000164",
			steps:   []step{{send: connackOK}},
		},
		{
			name:    "credentials keepalive clean",
			opts:    mqtt.Options{ClientID: "dev", KeepAlive: time.Minute, CleanSession: true, Username: "u", Password: "p"},
			connect: "101500044d51545404c2003c0003646576000175000170",
			steps:   []step{{send: connackOK}},
		},
		{
			name:    "subscribe, with a queued message before SUBACK",
			opts:    mqtt.Options{ClientID: "d", Subscribe: []mqtt.Subscription{{Topic: "cmd/#", QoS: 1}, {Topic: "x", QoS: 2}}},
			connect: "100d00044d51545404000000000164",
			steps: []step{
				{send: connackOK, expect: "820e00010005636d642f2301000178" + "02"},
				{send: "3209" + "0003636d64" + "0005" + "6869", expect: "40020005"}, // PUBLISH qos1 id 5 "hi" -> PUBACK
				{send: "90040001" + "0102"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := append([]step{{expect: tt.connect}}, tt.steps...)
			addr, res := scriptedBroker(t, steps...)
			tt.opts.Addr = addr
			rec := &recorder{}
			s, err := mqtt.Connect(context.Background(), tt.opts, rec)
			if err != nil {
				connectFailed(t, err, res)
			}
			wait(t, res)
			s.Close()
			if msgs := rec.messages(); len(tt.opts.Subscribe) > 0 && (len(msgs) != 1 || msgs[0] != (message{"cmd", "hi"})) {
				t.Errorf("messages = %v, want the one queued before SUBACK", msgs)
			}
		})
	}
}

func TestWireQoSFlows(t *testing.T) {
	tests := []struct {
		name    string
		steps   []step
		publish func(s *mqtt.Session) error
		acked   []uint16
		msgs    int
	}{
		{
			name:    "outbound qos1",
			publish: func(s *mqtt.Session) error { return s.Publish(9, "t", []byte("p"), 1, false) },
			steps:   []step{{expect: "32060001740009" + "70"}, {send: "40020009"}},
			acked:   []uint16{9},
		},
		{
			name:    "outbound qos2",
			publish: func(s *mqtt.Session) error { return s.Publish(9, "t", []byte("p"), 2, true) },
			steps: []step{
				{expect: "35060001740009" + "70"},
				{send: "50020009", expect: "62020009"}, // PUBREC -> PUBREL
				{send: "70020009"},                     // PUBCOMP -> Acked
			},
			acked: []uint16{9},
		},
		{
			name: "inbound qos2 delivered once",
			steps: []step{
				{send: "3406000174000778", expect: "50020007"}, // PUBLISH -> PUBREC
				{send: "3c06000174000778", expect: "50020007"}, // DUP again -> PUBREC, no delivery
				{send: "62020007", expect: "70020007"},         // PUBREL -> PUBCOMP
				{send: "3406000174000778", expect: "50020007"}, // id reused after PUBCOMP: a new message
				{send: "62020007", expect: "70020007"},
			},
			msgs: 2,
		},
		{
			name: "pubrel for an unknown id is completed",
			steps: []step{
				{send: "62020042", expect: "70020042"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := append([]step{{expect: "*"}, {send: connackOK}}, tt.steps...)
			addr, res := scriptedBroker(t, steps...)
			rec := &recorder{}
			s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: addr, ClientID: "d"}, rec)
			if err != nil {
				connectFailed(t, err, res)
			}
			defer s.Close()
			if tt.publish != nil {
				if err := tt.publish(s); err != nil {
					t.Fatalf("Publish() = %v", err)
				}
			}
			wait(t, res)
			eventually(t, 5*time.Second, func() bool { a, m, _ := rec.counts(); return a == len(tt.acked) && m == tt.msgs },
				"acked %v and %d messages, want %v and %d", rec.ackedIDs(), len(rec.messages()), tt.acked, tt.msgs)
		})
	}
}

func TestMalformedServer(t *testing.T) {
	isProtocol := func(err error) bool { var pe mqtt.ProtocolError; return errors.As(err, &pe) }
	isEOF := func(err error) bool { return errors.Is(err, io.EOF) }
	tests := []struct {
		name   string
		reply  string
		hangup bool
		want   func(error) bool
	}{
		{name: "garbage", reply: "ffffffffffff", want: isProtocol},
		{name: "PUBACK instead of CONNACK", reply: "40020001", want: isProtocol},
		{name: "PINGRESP instead of CONNACK", reply: "d000", want: isProtocol},
		{name: "CONNACK too long", reply: "2003000000", want: isProtocol},
		{name: "length over the limit", reply: "20ffffff7f", want: isProtocol},
		{name: "endless length", reply: "20ffffffffff", want: isProtocol},
		{name: "SUBACK after CONNACK unasked", reply: connackOK + "9003000100", want: nil},
		{name: "truncated CONNACK", reply: "2002", hangup: true, want: isEOF},
		{name: "silence", reply: "", hangup: true, want: isEOF},
		{name: "refused", reply: "20020002", want: func(err error) bool {
			var ce mqtt.ConnackError
			return errors.As(err, &ce) && ce.Code == 2 && ce.Kind() == "connack_identifier_rejected"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeBroker(t, func(c net.Conn) {
				readPacket(c)
				b, _ := hex.DecodeString(tt.reply)
				c.Write(b)
				if !tt.hangup {
					readPacket(c)
				}
			})
			rec := &recorder{}
			s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: addr, Timeout: 5 * time.Second}, rec)
			if tt.want == nil {
				// Accepted; the bad packet after CONNACK ends the session.
				if err != nil {
					t.Fatalf("Connect() = %v", err)
				}
				defer s.Close()
				eventually(t, 5*time.Second, func() bool { return rec.lostErr() != nil }, "Lost not called")
				err = rec.lostErr()
				if !isProtocol(err) {
					t.Errorf("Lost(%v), want a ProtocolError", err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Connect() succeeded, want an error")
			}
			if !tt.want(err) {
				t.Errorf("Connect() = %v (%T), wrong kind of error", err, errors.Unwrap(err))
			}
		})
	}
}

func TestServerDisconnect(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: connackOK + "e000"})
	rec := &recorder{}
	s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: addr}, rec)
	if err != nil {
		connectFailed(t, err, res)
	}
	defer s.Close()
	wait(t, res)
	eventually(t, 5*time.Second, func() bool { return rec.lostErr() != nil }, "Lost not called")
	if err := rec.lostErr(); !errors.Is(err, mqtt.ErrServerDisconnect) {
		t.Errorf("Lost(%v), want ErrServerDisconnect", err)
	}
}

func TestSubackRefused(t *testing.T) {
	addr, res := scriptedBroker(t, step{expect: "*"}, step{send: connackOK, expect: "*"}, step{send: "900400010080"})
	_, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: addr,
		Subscribe: []mqtt.Subscription{{Topic: "ok", QoS: 0}, {Topic: "denied", QoS: 1}}}, nil)
	var se mqtt.SubackError
	if !errors.As(err, &se) || se.Topic != "denied" || se.Kind() != "suback_refused" {
		t.Fatalf("Connect() = %v, want SubackError for \"denied\"", err)
	}
	wait(t, res)
}

func TestConnectHonoursTimeoutAndContext(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  time.Duration
		want    error
	}{
		{"Options.Timeout", 200 * time.Millisecond, 0, context.DeadlineExceeded},
		{"cancelled context", 10 * time.Second, 200 * time.Millisecond, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeBroker(t, func(c net.Conn) { readPacket(c); readPacket(c) }) // never answers
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel > 0 {
				time.AfterFunc(tt.cancel, cancel)
			}
			start := time.Now()
			_, err := mqtt.Connect(ctx, mqtt.Options{Addr: addr, Timeout: tt.timeout}, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Connect() = %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Connect took %v to give up, want about %v", d, max(tt.timeout, tt.cancel))
			}
		})
	}
}

func TestCloseFromHandlers(t *testing.T) {
	t.Run("from Lost", func(t *testing.T) {
		addr := fakeBroker(t, func(c net.Conn) { readPacket(c); c.Write([]byte{0x20, 2, 0, 0}) }) // then hang up
		rec := &recorder{}
		closed := make(chan error, 1)
		var s *mqtt.Session
		rec.onLost = func() { closed <- s.Close() }
		rec.mu.Lock()
		s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: addr}, rec)
		rec.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("Close() in Lost = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close() called from Lost did not return")
		}
	})
	t.Run("from Message", func(t *testing.T) {
		addr, res := scriptedBroker(t, step{expect: "*"}, step{send: connackOK + "30040001746d"}, step{expect: "e000"})
		rec := &recorder{}
		closed := make(chan error, 1)
		var s *mqtt.Session
		rec.onMessage = func() { closed <- s.Close() }
		rec.mu.Lock()
		s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: addr}, rec)
		rec.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("Close() in Message = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close() called from Message did not return")
		}
		wait(t, res) // the broker saw DISCONNECT
		if _, _, lost := rec.counts(); lost != 0 {
			t.Errorf("Lost called after Close: %v", rec.lostErr())
		}
	})
}

func TestConnectDialsThroughOptionsDial(t *testing.T) {
	from := make(chan string, 1)
	addr := fakeBroker(t, func(c net.Conn) {
		from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		readPacket(c)
		c.Write([]byte{0x20, 2, 0, 0})
		readPacket(c)
	})
	o := mqtt.Options{Addr: addr, Dial: dial.SourcePool(dial.LoopbackSources(3)[2:])}
	s, err := mqtt.Connect(context.Background(), o, nil)
	if err != nil {
		t.Fatalf("Connect() = %v", err)
	}
	s.Close()
	if ip := <-from; ip != "127.0.0.4" {
		t.Errorf("connection came from %s, want 127.0.0.4 (the dialer's source)", ip)
	}
}

// The session must satisfy the engine's contracts (sim.Session and
// sim.Handler) structurally; transports may not import sim, so the method
// sets are spelled out here.
var (
	_ interface {
		Publish(id uint16, topic string, payload []byte, qos byte, retain bool) error
		Ping() error
		Close() error
	} = (*mqtt.Session)(nil)
	_ mqtt.Handler = interface {
		Acked(id uint16)
		Message(topic string, payload []byte)
		Lost(err error)
	}(nil)
)
