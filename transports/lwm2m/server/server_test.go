package server_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

func TestRegisterUpdateDeregister(t *testing.T) {
	s := startServer(t, server.Config{})
	var regs, ups, deregs atomicCount
	s.OnRegister(func(string, time.Time) { regs.add() })
	s.OnUpdate(func(string, time.Time) { ups.add() })
	s.OnDeregister(func(string, time.Time) { deregs.add() })
	d := startDevice(t, s, 1, func(o *lwm2m.ClientOptions) { o.Lifetime = 2 * time.Second })
	// The server's callback runs once its 2.01 is on its way: it may
	// come a moment after the device has its answer.
	eventually(t, 2*time.Second, "the server's OnRegister", func() bool { return regs.get() == 1 })
	if d.registered.Load() != 1 {
		t.Fatalf("registered %d, want 1", d.registered.Load())
	}
	r, ok := s.Registration(d.ep)
	if !ok {
		t.Fatal("registration missing")
	}
	if r.Lifetime != 2*time.Second || r.Version != "1.1" || r.Binding != "U" || r.Queue {
		t.Errorf("registration = %+v, want lt 2s, lwm2m 1.1, b U, not queued", r)
	}
	if !slices.ContainsFunc(r.Objects, func(l lwm2m.Link) bool { return l.Target == "/3/0" }) {
		t.Errorf("objects %v lack </3/0>", r.Objects)
	}
	if loc := d.Location(); strings.Join(loc, "/") != strings.TrimPrefix(r.Location, "/") {
		t.Errorf("client location %v, server %s", loc, r.Location)
	}
	// The lifetime is renewed at 90 %: twice within 4.5s.
	eventually(t, 5*time.Second, "two updates", func() bool { return d.updated.Load() >= 2 && ups.get() >= 2 })
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	st := s.Stats()
	if st.Deregistrations != 1 || st.Registered != 0 || deregs.get() != 1 {
		t.Errorf("after close: %+v, OnDeregister %d: want 1 de-registration, none registered", st, deregs.get())
	}
}

func TestReadFormats(t *testing.T) {
	s := startServer(t, server.Config{})
	d := startDevice(t, s, 2, nil)
	c := ctx(t, 10*time.Second)
	for _, f := range []lwm2m.Format{lwm2m.FormatTLV, lwm2m.FormatSenMLJSON, lwm2m.FormatSenMLCBOR} {
		resp, err := s.Read(c, d.ep, mustPath(t, "/3/0"), f)
		if err != nil || resp.Code != coap.Content || resp.Format != f {
			t.Fatalf("read /3/0 in %v: %+v, %v", f, resp, err)
		}
		v := decode(t, f, mustPath(t, "/3/0"), resp.Payload)
		if got := v[mustPath(t, "/3/0/0")].Str(); got != "m2msim" {
			t.Errorf("%v: /3/0/0 = %q, want m2msim", f, got)
		}
	}
	resp, err := s.Read(c, d.ep, mustPath(t, "/3/0/0"), server.DefaultFormat)
	if err != nil || resp.Format != lwm2m.FormatText || string(resp.Payload) != "m2msim" {
		t.Fatalf("read /3/0/0 without Accept: %+v, %v: want text m2msim", resp, err)
	}
	resp, err = s.Read(c, d.ep, mustPath(t, "/3/0"), server.DefaultFormat)
	if err != nil || resp.Format != lwm2m.FormatTLV {
		t.Fatalf("read /3/0 without Accept: %+v, %v: want TLV", resp, err)
	}
	resp, err = s.Read(c, d.ep, mustPath(t, "/3303/0/5700"), lwm2m.FormatSenMLJSON)
	if err != nil || resp.Code != coap.Content || !strings.Contains(string(resp.Payload), `"bn":"/3303/0/5700"`) {
		t.Fatalf("read temperature: %+v %s, %v", resp, resp.Payload, err)
	}
	for _, tc := range []struct {
		path string
		f    lwm2m.Format
		want coap.Code
	}{
		{"/3/0/0", lwm2m.FormatOpaque, coap.NotAcceptable},
		{"/42", lwm2m.FormatTLV, coap.NotFound},
		{"/3/0/4", lwm2m.FormatTLV, coap.MethodNotAllowed},
	} {
		resp, err := s.Read(c, d.ep, mustPath(t, tc.path), tc.f)
		if err != nil || resp.Code != tc.want {
			t.Errorf("read %s in %v: %+v, %v: want %v", tc.path, tc.f, resp, err, tc.want)
		}
	}
	if st := s.Stats(); st.Requests[lwm2m.ReadOp] != 9 || st.Responses[lwm2m.ReadOp][coap.Content] != 6 {
		t.Errorf("stats: requests %v responses %v: want 9 reads, 6 answered 2.05", st.Requests, st.Responses)
	}
}

// atomicCount counts callback calls.
type atomicCount struct{ n atomic.Int64 }

func (a *atomicCount) add()       { a.n.Add(1) }
func (a *atomicCount) get() int64 { return a.n.Load() }

// A server that forgot the registration answers the next Update 4.04,
// and the device registers again.
func TestReregisterAfterLostRegistration(t *testing.T) {
	s := startServer(t, server.Config{})
	d := startDevice(t, s, 13, nil)
	if !s.Deregister(d.ep) {
		t.Fatal("Deregister: not registered")
	}
	d.Update()
	eventually(t, 5*time.Second, "a new registration", func() bool { return d.registered.Load() == 2 && s.Registered() == 1 })
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.errs) != 1 {
		t.Errorf("errors %v: want the Update's 4.04", d.errs)
	}
}
