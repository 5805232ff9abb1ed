package server_test

import (
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

// observe starts an observation whose notifications go to a channel.
func observe(t *testing.T, s *server.Server, ep, path string, f lwm2m.Format) (*server.Observation, <-chan server.Notification, string) {
	t.Helper()
	ch := make(chan server.Notification, 64)
	o, resp, err := s.Observe(ctx(t, 5*time.Second), ep, mustPath(t, path), f, func(n server.Notification) {
		select {
		case ch <- n:
		default:
			t.Errorf("notification of %v dropped: the test is not reading", n.Path)
		}
	})
	if err != nil || o == nil || resp.Code != coap.Content {
		t.Fatalf("observe %s: %v, %+v, %v", path, o, resp, err)
	}
	return o, ch, string(resp.Payload)
}

// next returns the next notification, failing after 5s.
func next(t *testing.T, ch <-chan server.Notification) server.Notification {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s")
		return server.Notification{}
	}
}

// Core §5.1.2: with gt, lt and st a numeric value is notified when it
// crosses gt or lt, or moves st from the value last notified. The
// writes that must not notify are followed by one that must: the value
// it carries shows that nothing came between.
func TestObserveThresholds(t *testing.T) {
	s := startServer(t, server.Config{})
	d := startDevice(t, s, 5, nil)
	c := ctx(t, 20*time.Second)
	lt := mustPath(t, "/1/0/1")
	if resp, err := s.WriteAttributes(c, d.ep, lt, "gt=100", "lt=20", "st=30"); err != nil || resp.Code != coap.Changed {
		t.Fatalf("write-attributes: %+v, %v", resp, err)
	}
	_, ch, first := observe(t, s, d.ep, "/1/0/1", lwm2m.FormatText)
	if first != "86400" {
		t.Fatalf("first answer %q, want 86400", first)
	}
	for _, step := range []struct {
		write  string
		notify bool
	}{
		{"86410", false}, // moved less than st, crossed nothing
		{"50", true},     // crossed gt
		{"60", false},
		{"10", true}, // crossed lt
		{"45", true}, // moved st (and back over lt)
		{"50", false},
		{"200", true},
	} {
		if resp, err := s.Write(c, d.ep, lt, lwm2m.FormatText, []byte(step.write), false); err != nil || resp.Code != coap.Changed {
			t.Fatalf("write %s: %+v, %v", step.write, resp, err)
		}
		if !step.notify {
			continue
		}
		if n := next(t, ch); string(n.Payload) != step.write || n.Last {
			t.Fatalf("after writing %s: notification %q (last %v), want %s", step.write, n.Payload, n.Last, step.write)
		}
	}
}

// pmax makes an unchanged value notified every pmax; pmin keeps a value
// that changes all the time from being notified more often than every
// pmin. Cancel ends an observation at the device.
func TestObservePeriods(t *testing.T) {
	s := startServer(t, server.Config{})
	d := startDevice(t, s, 6, func(o *lwm2m.ClientOptions) {
		o.Model = lwm2m.NewModel(lwm2m.Config{Start: time.Now(), Step: 10 * time.Millisecond})
	})
	c := ctx(t, 20*time.Second)
	for _, wa := range []struct{ path, q string }{{"/3/0/0", "pmax=1"}, {"/3303/0/5700", "pmin=1"}} {
		if resp, err := s.WriteAttributes(c, d.ep, mustPath(t, wa.path), wa.q); err != nil || resp.Code != coap.Changed {
			t.Fatalf("write-attributes %s %s: %+v, %v", wa.path, wa.q, resp, err)
		}
	}
	oMax, chMax, _ := observe(t, s, d.ep, "/3/0/0", server.DefaultFormat)
	_, chMin, _ := observe(t, s, d.ep, "/3303/0/5700", lwm2m.FormatSenMLJSON)
	start := time.Now()
	for _, ch := range []<-chan server.Notification{chMax, chMin} {
		a := next(t, ch)
		b := next(t, ch)
		if gap := b.At.Sub(a.At); gap < 900*time.Millisecond || b.Observe <= a.Observe {
			t.Errorf("%v: notifications %v apart (observe %d, %d): want about 1s, increasing", a.Path, gap, a.Observe, b.Observe)
		}
	}
	if since := time.Since(start); since > 4*time.Second {
		t.Errorf("two notifications each took %v: want about 2s", since)
	}
	if resp, err := s.Cancel(c, oMax); err != nil || resp.Code != coap.Content {
		t.Fatalf("cancel: %+v, %v", resp, err)
	}
	eventually(t, 5*time.Second, "one observation left at the device", func() bool { return d.Observations() == 1 })
	if st := s.Stats(); st.Notifications < 4 || st.Requests[lwm2m.CancelObserveOp] != 1 {
		t.Errorf("stats: %d notifications, requests %v", st.Notifications, st.Requests)
	}
}

// An observer that forgot the observation rejects the next notification
// with RST, and the device drops the observation; a deleted instance
// ends its observations with 4.04.
func TestObserveEnds(t *testing.T) {
	s := startServer(t, server.Config{})
	d := startDevice(t, s, 12, func(o *lwm2m.ClientOptions) {
		o.Model = lwm2m.NewModel(lwm2m.Config{Start: time.Now(), Step: 10 * time.Millisecond, Sensors: 2})
	})
	o, ch, _ := observe(t, s, d.ep, "/3303/0/5700", lwm2m.FormatText)
	next(t, ch)
	s.Forget(o)
	eventually(t, 5*time.Second, "the device dropped the observation", func() bool { return d.Observations() == 0 })
	if st := s.Stats(); st.Unmatched < 1 {
		t.Errorf("stats: %d unmatched, want the notification rejected", st.Unmatched)
	}
	_, ch, _ = observe(t, s, d.ep, "/3303/1", lwm2m.FormatSenMLJSON)
	if resp, err := s.Delete(ctx(t, 5*time.Second), d.ep, mustPath(t, "/3303/1")); err != nil || resp.Code != coap.Deleted {
		t.Fatalf("delete: %+v, %v", resp, err)
	}
	for {
		n := next(t, ch)
		if n.Last {
			if n.Code != coap.NotFound || d.Observations() != 0 {
				t.Errorf("last notification %v, %d observations left: want 4.04 and none", n.Code, d.Observations())
			}
			break
		}
	}
	o, _, _ = observe(t, s, d.ep, "/3/0/9", lwm2m.FormatText)
	if !o.Active() {
		t.Fatal("observation not active")
	}
	s.Deregister(d.ep)
	if o.Active() {
		t.Error("observation active after the de-registration")
	}
}
