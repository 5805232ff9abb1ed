package server_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

func TestWriteExecuteDiscover(t *testing.T) {
	s := startServer(t, server.Config{})
	var mu sync.Mutex // the device's goroutines write executed, the test reads it
	var executed []lwm2m.Path
	d := startDevice(t, s, 3, func(o *lwm2m.ClientOptions) {
		o.Model = lwm2m.NewModel(lwm2m.Config{Start: time.Now(), OnExecute: func(p lwm2m.Path, _ []byte) {
			mu.Lock()
			executed = append(executed, p)
			mu.Unlock()
		}})
	})
	c := ctx(t, 10*time.Second)
	tz := mustPath(t, "/3/0/15")
	for _, tc := range []struct {
		name    string
		p       lwm2m.Path
		f       lwm2m.Format
		payload string
		partial bool
		want    coap.Code
	}{
		{"replace a resource", tz, lwm2m.FormatText, "Europe/Berlin", false, coap.Changed},
		{"read-only resource", mustPath(t, "/3/0/0"), lwm2m.FormatText, "x", false, coap.MethodNotAllowed},
		{"wrong type", mustPath(t, "/1/0/1"), lwm2m.FormatText, "soon", false, coap.BadRequest},
		{"unknown format", tz, lwm2m.Format(9999), "x", false, coap.UnsupportedContentFormat},
		{"partial update of an instance", mustPath(t, "/1/0"), lwm2m.FormatSenMLJSON,
			`[{"bn":"/1/0/","n":"1","v":120}]`, true, coap.Changed},
	} {
		resp, err := s.Write(c, d.ep, tc.p, tc.f, []byte(tc.payload), tc.partial)
		if err != nil || resp.Code != tc.want {
			t.Errorf("%s: write %v: %+v, %v: want %v", tc.name, tc.p, resp, err, tc.want)
		}
	}
	for p, want := range map[string]string{"/3/0/15": "Europe/Berlin", "/1/0/1": "120"} {
		resp, err := s.Read(c, d.ep, mustPath(t, p), lwm2m.FormatText)
		if err != nil || string(resp.Payload) != want {
			t.Errorf("read %s after write: %+v, %v: want %q", p, resp, err, want)
		}
	}
	resp, err := s.Execute(c, d.ep, mustPath(t, "/3/0/4"), nil)
	if err != nil || resp.Code != coap.Changed {
		t.Errorf("execute reboot: %+v, %v", resp, err)
	}
	resp, err = s.Execute(c, d.ep, mustPath(t, "/3/0/0"), nil)
	if err != nil || resp.Code != coap.MethodNotAllowed {
		t.Errorf("execute a read-only resource: %+v, %v: want 4.05", resp, err)
	}
	mu.Lock()
	if !slices.Contains(executed, mustPath(t, "/3/0/4")) {
		t.Errorf("OnExecute saw %v, want /3/0/4", executed)
	}
	mu.Unlock()
	resp, err = s.WriteAttributes(c, d.ep, mustPath(t, "/3/0/9"), "pmin=5", "pmax=60")
	if err != nil || resp.Code != coap.Changed {
		t.Fatalf("write-attributes: %+v, %v", resp, err)
	}
	resp, err = s.WriteAttributes(c, d.ep, mustPath(t, "/3/0/9"), "epmin=5")
	if err != nil || resp.Code != coap.BadRequest {
		t.Errorf("write-attributes epmin: %+v, %v: want 4.00", resp, err)
	}
	resp, err = s.Discover(c, d.ep, mustPath(t, "/3/0"))
	if err != nil || resp.Code != coap.Content || resp.Format != lwm2m.FormatLink {
		t.Fatalf("discover: %+v, %v", resp, err)
	}
	links, err := lwm2m.ParseLinks(resp.Payload)
	if err != nil {
		t.Fatalf("discover payload %q: %v", resp.Payload, err)
	}
	i := slices.IndexFunc(links, func(l lwm2m.Link) bool { return l.Target == "/3/0/9" })
	if i < 0 || lwm2m.AppendLinks(nil, links[i:i+1]) == nil || string(lwm2m.AppendLinks(nil, links[i:i+1])) != "</3/0/9>;pmin=5;pmax=60" {
		t.Errorf("discover /3/0: %s: want </3/0/9>;pmin=5;pmax=60", resp.Payload)
	}
}

func TestCreateDelete(t *testing.T) {
	s := startServer(t, server.Config{})
	d := startDevice(t, s, 4, nil)
	c := ctx(t, 10*time.Second)
	has := func(target string) bool {
		r, _ := s.Registration(d.ep)
		return slices.ContainsFunc(r.Objects, func(l lwm2m.Link) bool { return l.Target == target })
	}
	payload := `[{"bn":"/3303/7/","n":"5701","vs":"Far"}]`
	resp, err := s.Create(c, d.ep, mustPath(t, "/3303"), lwm2m.FormatSenMLJSON, []byte(payload))
	if err != nil || resp.Code != coap.Created || resp.Location != mustPath(t, "/3303/7") {
		t.Fatalf("create: %+v, %v: want 2.01 at /3303/7", resp, err)
	}
	eventually(t, 5*time.Second, "an Update listing </3303/7>", func() bool { return has("/3303/7") })
	resp, err = s.Read(c, d.ep, mustPath(t, "/3303/7/5701"), lwm2m.FormatText)
	if err != nil || string(resp.Payload) != "Far" {
		t.Errorf("read the new instance: %+v, %v", resp, err)
	}
	resp, err = s.Create(c, d.ep, mustPath(t, "/3"), lwm2m.FormatTLV, nil)
	if err != nil || resp.Code != coap.MethodNotAllowed {
		t.Errorf("create on a single-instance object: %+v, %v: want 4.05", resp, err)
	}
	resp, err = s.Delete(c, d.ep, mustPath(t, "/3303/7"))
	if err != nil || resp.Code != coap.Deleted {
		t.Fatalf("delete: %+v, %v", resp, err)
	}
	eventually(t, 5*time.Second, "an Update without </3303/7>", func() bool { return !has("/3303/7") && has("/3303/0") })
	resp, err = s.Delete(c, d.ep, mustPath(t, "/3303/7"))
	if err != nil || resp.Code != coap.NotFound {
		t.Errorf("delete again: %+v, %v: want 4.04", resp, err)
	}
	if st := s.Stats(); st.Updates < 2 {
		t.Errorf("updates %d, want 2 (one per change of objects)", st.Updates)
	}
}
