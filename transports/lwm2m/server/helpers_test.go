package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

// startServer runs a server on a loopback port, closed at the test's end.
func startServer(t testing.TB, c server.Config) *server.Server {
	t.Helper()
	s, err := server.Start("127.0.0.1:0", nil, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// device is a client under test with what its callbacks saw.
type device struct {
	*lwm2m.Client
	ep         string
	registered atomic.Int64
	updated    atomic.Int64
	requests   atomic.Int64
	notified   atomic.Int64
	mu         sync.Mutex
	errs       []error
	fw         []lwm2m.FirmwareEvent
}

// firmware returns the firmware events so far.
func (d *device) firmware() []lwm2m.FirmwareEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]lwm2m.FirmwareEvent(nil), d.fw...)
}

// startDevice registers a device with s; edit adjusts its options. It is
// closed (de-registered) at the test's end.
func startDevice(t testing.TB, s *server.Server, i int, edit func(*lwm2m.ClientOptions)) *device {
	t.Helper()
	d := &device{ep: fmt.Sprintf("dev-%04d", i)}
	o := lwm2m.ClientOptions{
		CoAP:         coap.Options{Addr: s.Addr(), Seed: 7, Stream: uint64(i)},
		Endpoint:     d.ep,
		Lifetime:     60 * time.Second,
		Model:        lwm2m.NewModel(lwm2m.Config{Seed: 7, Index: uint64(i), Start: time.Now()}),
		CheckEvery:   50 * time.Millisecond,
		OnRegistered: func(time.Duration) { d.registered.Add(1) },
		OnUpdated:    func(time.Duration) { d.updated.Add(1) },
		OnRequest:    func(lwm2m.Op, coap.Code) { d.requests.Add(1) },
		OnNotify:     func(lwm2m.Path) { d.notified.Add(1) },
		OnError: func(err error) {
			d.mu.Lock()
			d.errs = append(d.errs, err)
			d.mu.Unlock()
		},
		OnFirmware: func(e lwm2m.FirmwareEvent) {
			d.mu.Lock()
			d.fw = append(d.fw, e)
			d.mu.Unlock()
		},
	}
	if edit != nil {
		edit(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := lwm2m.Start(ctx, o)
	if err != nil {
		t.Fatalf("start %s: %v", d.ep, err)
	}
	d.Client = c
	t.Cleanup(func() { c.Close() })
	return d
}

// eventually polls cond every 10ms until it holds, failing the test
// after d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ctx returns a context bounded by d, canceled at the test's end.
func ctx(t testing.TB, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// mustPath parses a path, failing the test on error.
func mustPath(t testing.TB, s string) lwm2m.Path {
	t.Helper()
	p, err := lwm2m.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// decode decodes a response payload with the types of the simulated
// device.
func decode(t testing.TB, f lwm2m.Format, base lwm2m.Path, payload []byte) map[lwm2m.Path]lwm2m.Value {
	t.Helper()
	m := lwm2m.NewModel(lwm2m.Config{})
	recs, err := lwm2m.Decode(f, base, payload, m.Type)
	if err != nil {
		t.Fatalf("decode %v %v: %v", f, base, err)
	}
	out := map[lwm2m.Path]lwm2m.Value{}
	for _, r := range recs {
		out[r.Path] = r.Value
	}
	return out
}
