package mqtt_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// brokers are the servers the integration tests run against.
var brokers = []struct {
	name  string
	start func(t testing.TB) string
}{
	{"mochi", mqtttest.StartMochi},
	{"mosquitto", func(t testing.TB) string { return mqtttest.StartMosquitto(t).Addr() }},
}

// message is one delivery seen by a recorder.
type message struct {
	topic, payload string
}

// recorder is a Handler that remembers everything.
type recorder struct {
	mu    sync.Mutex
	acked []uint16
	msgs  []message
	lost  []error
	// onMessage, when set, runs inside Message (for re-entrancy tests).
	onMessage func()
	onLost    func()
}

func (r *recorder) Acked(id uint16) {
	r.mu.Lock()
	r.acked = append(r.acked, id)
	r.mu.Unlock()
}

func (r *recorder) Message(topic string, payload []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, message{topic, string(payload)})
	f := r.onMessage
	r.mu.Unlock()
	if f != nil {
		f()
	}
}

func (r *recorder) Lost(err error) {
	r.mu.Lock()
	r.lost = append(r.lost, err)
	f := r.onLost
	r.mu.Unlock()
	if f != nil {
		f()
	}
}

func (r *recorder) counts() (acked, msgs, lost int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acked), len(r.msgs), len(r.lost)
}

func (r *recorder) lostErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lost) == 0 {
		return nil
	}
	return r.lost[0]
}

func (r *recorder) messages() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message(nil), r.msgs...)
}

func (r *recorder) ackedIDs() []uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint16(nil), r.acked...)
}

var clientSeq struct {
	sync.Mutex
	n int
}

// clientID returns an id unique within the test binary.
func clientID(prefix string) string {
	clientSeq.Lock()
	defer clientSeq.Unlock()
	clientSeq.n++
	return fmt.Sprintf("%s-%d", prefix, clientSeq.n)
}

// connect opens a session that t.Cleanup closes.
func connect(t testing.TB, o mqtt.Options, h mqtt.Handler) *mqtt.Session {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = clientID("dev")
	}
	o.CleanSession = true
	s, err := mqtt.Connect(context.Background(), o, h)
	if err != nil {
		t.Fatalf("Connect(%s) = %v", o.Addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backendInbox collects what a Backend delivers.
type backendInbox struct {
	mu      sync.Mutex
	msgs    []message
	badTime error // the first arrival time that was zero or after its delivery
}

// newInbox returns an inbox whose arrival times t checks at the end.
func newInbox(t testing.TB) *backendInbox {
	in := &backendInbox{}
	t.Cleanup(func() {
		if err := in.timeErr(); err != nil {
			t.Error(err)
		}
	})
	return in
}

func (b *backendInbox) deliver(topic string, payload []byte, arrived time.Time) {
	now := time.Now()
	b.mu.Lock()
	b.msgs = append(b.msgs, message{topic, string(payload)})
	if b.badTime == nil && (arrived.IsZero() || arrived.After(now)) {
		b.badTime = fmt.Errorf("%s arrived %v, delivered %v: want a time not after delivery", topic, arrived, now)
	}
	b.mu.Unlock()
}

func (b *backendInbox) timeErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.badTime
}

func (b *backendInbox) count(payload string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.msgs {
		if m.payload == payload {
			n++
		}
	}
	return n
}

func (b *backendInbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// dialBackend opens a Backend subscribed to subs that t.Cleanup closes.
func dialBackend(t testing.TB, addr string, subs ...mqtt.Subscription) (*mqtt.Backend, *backendInbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := mqtt.BackendOptions{Options: mqtt.Options{Addr: addr, ClientID: clientID("backend"), CleanSession: true}}
	b, err := mqtt.DialBackend(ctx, o, quietLog(t))
	if err != nil {
		t.Fatalf("DialBackend(%s) = %v", addr, err)
	}
	t.Cleanup(func() { b.Close() })
	in := newInbox(t)
	if len(subs) > 0 {
		if err := b.Subscribe(ctx, subs, in.deliver); err != nil {
			t.Fatalf("Subscribe(%v) = %v", subs, err)
		}
	}
	return b, in
}

// quietLog logs through t only in verbose runs.
func quietLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// fakeBroker accepts one connection on a loopback port and runs script on
// it. It returns the address.
func fakeBroker(t *testing.T, script func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		script(c)
	}()
	return ln.Addr().String()
}

// readPacket reads one whole MQTT packet (fixed header and body) for a
// fake broker; it returns nil at EOF.
func readPacket(c net.Conn) []byte {
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return nil
	}
	rl, mul := int(hdr[1]&0x7f), 1
	for b := hdr[1]; b&0x80 != 0; {
		one := make([]byte, 1)
		if _, err := io.ReadFull(c, one); err != nil {
			return nil
		}
		hdr = append(hdr, one[0])
		b = one[0]
		mul *= 128
		rl += int(b&0x7f) * mul
	}
	body := make([]byte, rl)
	if _, err := io.ReadFull(c, body); err != nil {
		return nil
	}
	return append(hdr, body...)
}
