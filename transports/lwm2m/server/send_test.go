package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

// TestSend sends records in both SenML formats and checks that OnSend
// gets them, typed, under the device's endpoint, and that the device
// gets 2.04.
func TestSend(t *testing.T) {
	s := startServer(t, server.Config{})
	type got struct {
		ep   string
		recs []lwm2m.Record
	}
	var mu sync.Mutex
	var sent []got
	s.OnSend(func(ep string, recs []lwm2m.Record, arrived time.Time) {
		if arrived.IsZero() {
			t.Errorf("OnSend: zero arrival time")
		}
		mu.Lock()
		sent = append(sent, got{ep, recs})
		mu.Unlock()
	})
	d := startDevice(t, s, 1, nil)
	want := []lwm2m.Record{
		{Path: mustPath(t, "/3303/0/5700"), Value: lwm2m.Float(21.5)},
		{Path: mustPath(t, "/3303/0/5750"), Value: lwm2m.String("m2mt0000010000000100000000ff")},
	}
	for _, f := range []lwm2m.Format{lwm2m.FormatSenMLCBOR, lwm2m.FormatSenMLJSON} {
		codes := make(chan coap.Result, 1)
		done := func(r coap.Result) { // the response is valid only during the call
			if r.Response != nil {
				r.Response = r.Response.Clone()
			}
			codes <- r
		}
		if err := d.Send(f, want, done); err != nil {
			t.Fatalf("Send(%v) = %v", f, err)
		}
		select {
		case r := <-codes:
			if r.Err != nil || r.Response.Code != coap.Changed {
				t.Fatalf("Send(%v) ended %v, %v; want 2.04", f, r.Err, r.Response)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Send(%v): no answer", f)
		}
	}
	eventually(t, 2*time.Second, "two Sends seen", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sent) == 2
	})
	for i, g := range sent {
		if g.ep != d.ep || len(g.recs) != len(want) {
			t.Fatalf("Send %d: OnSend(%q, %v), want %q, %v", i, g.ep, g.recs, d.ep, want)
		}
		for j := range want {
			if g.recs[j].Path != want[j].Path || g.recs[j].Value != want[j].Value {
				t.Errorf("Send %d record %d = %v %v, want %v %v", i, j, g.recs[j].Path, g.recs[j].Value,
					want[j].Path, want[j].Value)
			}
		}
	}
	if st := s.Stats(); st.Sends != 2 {
		t.Errorf("Stats().Sends = %d, want 2", st.Sends)
	}
}

// TestSendRefused checks the answers to a Send the server does not take:
// from an address no device registered from, and in a format without
// full paths.
func TestSendRefused(t *testing.T) {
	s := startServer(t, server.Config{})
	sess, err := coap.Dial(ctx(t, 5*time.Second), coap.Options{Addr: s.Addr(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	for _, c := range []struct {
		format uint32
		want   coap.Code
	}{{coap.SenMLJSON, coap.NotFound}} {
		m := &coap.Message{Type: coap.Confirmable, Code: coap.POST, Payload: []byte(`[{"n":"/3/0/0","vs":"x"}]`)}
		m.SetPath("/dp")
		m.SetUint(coap.ContentFormat, c.format)
		resp, err := sess.Do(ctx(t, 5*time.Second), m)
		if err != nil || resp.Code != c.want {
			t.Errorf("POST /dp (format %d) = %v, %v; want %v", c.format, resp, err, c.want)
		}
	}
	d := startDevice(t, s, 2, nil)
	if err := d.Send(lwm2m.FormatTLV, nil, nil); err == nil {
		t.Errorf("Send in TLV: no error")
	}
}
