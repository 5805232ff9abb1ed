package coap

import (
	"bytes"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestFresh checks RFC 7641 §3.4's rule: a notification is newer when
// its 24-bit number is ahead by less than 2^23 (wrapping), or when more
// than 128 seconds passed.
func TestFresh(t *testing.T) {
	const s = time.Second
	for _, c := range []struct {
		v1, v2 uint32
		dt     time.Duration
		want   bool
	}{
		{1, 2, 0, true},
		{2, 1, 0, false},
		{5, 5, 0, false},
		{0, 1<<23 - 1, 0, true},
		{0, 1 << 23, 0, false},     // exactly half the space ahead: not newer
		{0xfffffe, 1, 0, true},     // wrapped
		{1, 0xfffffe, 0, false},    // behind across the wrap
		{1 << 23, 0, 0, false},     // exactly half behind
		{1<<23 + 1, 0, 0, true},    // more than half behind: wrapped ahead
		{5, 1, 128 * s, false},     // 128 s is not more than 128 s
		{5, 1, 128*s + 1, true},    // older number, but after 128 s
		{5, 5, 129 * s, true},      // the same number, after 128 s
		{7, 1 << 23, 10 * s, true}, // ahead by less than half
	} {
		t1 := 10 * s
		if got := fresh(c.v1, t1, c.v2, t1+c.dt); got != c.want {
			t.Errorf("fresh(%#x, %#x, after %v) = %v, want %v", c.v1, c.v2, c.dt, got, c.want)
		}
	}
}

// notes collects Observe callbacks, keeping copies of the responses.
type notes struct{ ch chan Notification }

func newNotes() *notes { return &notes{ch: make(chan Notification, 64)} }

func (n *notes) notify(x Notification) {
	if x.Response != nil {
		x.Response = x.Response.Clone()
	}
	n.ch <- x
}

func (n *notes) next(t *testing.T) Notification {
	t.Helper()
	select {
	case x := <-n.ch:
		return x
	case <-time.After(time.Minute):
		t.Fatal("no Observe callback within a minute")
	}
	panic("unreachable")
}

func (n *notes) none(t *testing.T) {
	t.Helper()
	synctest.Wait()
	select {
	case x := <-n.ch:
		t.Fatalf("unexpected Observe callback %+v", x)
	default:
	}
}

// notification builds a notification (or response) with an Observe
// option, or none when seq < 0.
func notification(typ Type, code Code, mid uint16, token []byte, seq int, payload string) *Message {
	m := &Message{Type: typ, Code: code, MessageID: mid, Token: token, Payload: []byte(payload)}
	if seq >= 0 {
		m.SetUint(Observe, uint32(seq))
	}
	return m
}

// register starts an observation of /temp on a fake server and answers
// its registration with Observe seq; it returns the registration.
func register(t *testing.T, s *Session, c *fakeConn, n *notes, seq int) (*Observation, Message) {
	t.Helper()
	o, err := s.Observe(get("/temp"), n.notify)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := c.recv(t, time.Second)
	if v, ok := reg.Uint(Observe); !ok || v != 0 || reg.Code != GET || reg.Path() != "/temp" || !bytes.Equal(reg.Token, o.Token()) {
		t.Fatalf("registration %v, want GET /temp with Observe 0 and the observation's token", &reg)
	}
	c.send(t, notification(Acknowledgement, Content, reg.MessageID, reg.Token, seq, "first"))
	return o, reg
}

// TestObserveNotifications: the registration's response and each newer
// notification are delivered; a CON one is acknowledged, a reordered
// one dropped as stale, a duplicate acknowledged again and not
// delivered; after 128 s any number is newer; a 4.04 ends it, and the
// next notification is rejected.
func TestObserveNotifications(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		n := newNotes()
		_, reg := register(t, s, c, n, 10)
		tok := reg.Token
		if x := n.next(t); !x.First || x.Last || x.Observe != 10 || string(x.Response.Payload) != "first" {
			t.Fatalf("first call %+v", x)
		}
		con := notification(Confirmable, Content, 0x100, tok, 12, "twelve")
		c.send(t, con)
		if a, _ := c.recv(t, time.Second); a.Type != Acknowledgement || a.MessageID != 0x100 || a.Code != Empty {
			t.Errorf("answer to a CON notification %v, want an empty ACK", &a)
		}
		if x := n.next(t); x.First || x.Observe != 12 || string(x.Response.Payload) != "twelve" {
			t.Errorf("notification %+v", x)
		}
		c.send(t, notification(NonConfirmable, Content, 0x101, tok, 11, "eleven")) // overtaken: stale
		c.send(t, con)                                                             // a duplicate
		if a, _ := c.recv(t, time.Second); a.Type != Acknowledgement || a.MessageID != 0x100 {
			t.Errorf("answer to the duplicate %v, want the ACK again", &a)
		}
		n.none(t)
		c.send(t, notification(NonConfirmable, Content, 0x102, tok, 13, "thirteen"))
		if x := n.next(t); x.Observe != 13 {
			t.Errorf("notification %+v, want 13", x)
		}
		time.Sleep(129 * time.Second)
		c.send(t, notification(NonConfirmable, Content, 0x103, tok, 2, "restarted"))
		if x := n.next(t); x.Observe != 2 {
			t.Errorf("after 129 s: %+v, want 2 delivered", x)
		}
		c.send(t, notification(NonConfirmable, NotFound, 0x104, tok, -1, ""))
		if x := n.next(t); !x.Last || x.Response.Code != NotFound || x.Err != nil {
			t.Errorf("last call %+v, want the 4.04", x)
		}
		c.send(t, notification(NonConfirmable, Content, 0x105, tok, 3, "after the end"))
		if a, _ := c.recv(t, time.Second); a.Type != Reset || a.MessageID != 0x105 {
			t.Errorf("answer to a notification after the end %v, want RST", &a)
		}
		n.none(t)
		st := s.Stats()
		if st.Notifications != 5 || st.Stale != 1 || st.Duplicates != 1 || st.Unmatched != 1 || st.Codes[Content] != 1 {
			t.Errorf("Stats = %+v, want 5 notifications, 1 stale, 1 duplicate, 1 unmatched", st)
		}
	})
}

// TestObserveEnds: an observation ends with one call marked Last,
// whatever ends it.
func TestObserveEnds(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer func(reg Message) *Message
		then   *Message // a notification after a successful registration
		first  bool     // the last call is the first
		code   Code
		err    bool
	}{
		{name: "registration without Observe", first: true, code: Content,
			answer: func(r Message) *Message { return notification(Acknowledgement, Content, r.MessageID, r.Token, -1, "") }},
		{name: "registration answered 4.04", first: true, code: NotFound,
			answer: func(r Message) *Message { return notification(Acknowledgement, NotFound, r.MessageID, r.Token, -1, "") }},
		{name: "registration reset", first: true, err: true,
			answer: func(r Message) *Message { return &Message{Type: Reset, MessageID: r.MessageID} }},
		{name: "notification without Observe", code: Content,
			then: notification(Confirmable, Content, 0x200, nil, -1, "bye")},
		{name: "notification 5.03", code: ServiceUnavailable,
			then: notification(NonConfirmable, ServiceUnavailable, 0x200, nil, 9, "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, conn := dialFake(t, Options{})
				n := newNotes()
				if _, err := s.Observe(get("/temp"), n.notify); err != nil {
					t.Fatal(err)
				}
				reg, _ := conn.recv(t, time.Second)
				if c.answer != nil {
					conn.send(t, c.answer(reg))
				} else {
					conn.send(t, notification(Acknowledgement, Content, reg.MessageID, reg.Token, 1, ""))
					n.next(t)
					c.then.Token = reg.Token
					conn.send(t, c.then)
				}
				x := n.next(t)
				if !x.Last || x.First != c.first || (x.Err != nil) != c.err || !c.err && x.Response.Code != c.code {
					t.Errorf("last call %+v", x)
				}
				var re *ResetError
				if c.err && !errors.As(x.Err, &re) {
					t.Errorf("Err = %v, want a *ResetError", x.Err)
				}
				n.none(t)
			})
		})
	}
}

// TestObserveCancelForget: Cancel without deregistering ends the
// observation at once with ErrCanceled, on the timer goroutine, and the
// next notifications, CON or NON, are rejected with RST (RFC 7641 §3.6).
func TestObserveCancelForget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		n := newNotes()
		o, reg := register(t, s, c, n, 1)
		n.next(t)
		if err := o.Cancel(false); err != nil {
			t.Fatal(err)
		}
		if x := n.next(t); !x.Last || !errors.Is(x.Err, ErrCanceled) {
			t.Errorf("after Cancel(false): %+v, want the last call with ErrCanceled", x)
		}
		if err := o.Cancel(true); err != nil {
			t.Errorf("Cancel again = %v, want nil", err)
		}
		c.quiet(t, time.Minute) // nothing sent on Cancel(false)
		for i, typ := range []Type{Confirmable, NonConfirmable} {
			mid := uint16(0x300 + i)
			c.send(t, notification(typ, Content, mid, reg.Token, 2+i, ""))
			if a, _ := c.recv(t, time.Second); a.Type != Reset || a.MessageID != mid {
				t.Errorf("answer to a %v notification after Cancel: %v, want RST", typ, &a)
			}
		}
		n.none(t)
	})
}

// TestObserveCancelDeregister: Cancel(true) sends a GET with Observe 1,
// the registration's token and options; a notification crossing it is
// acknowledged and not delivered; its response is the last call.
func TestObserveCancelDeregister(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		n := newNotes()
		o, reg := register(t, s, c, n, 1)
		n.next(t)
		if err := o.Cancel(true); err != nil {
			t.Fatal(err)
		}
		d, _ := c.recv(t, time.Second)
		if v, ok := d.Uint(Observe); !ok || v != 1 || d.Path() != "/temp" || !bytes.Equal(d.Token, reg.Token) || d.Type != Confirmable {
			t.Fatalf("deregistration %v, want CON GET /temp, Observe 1, token %x", &d, reg.Token)
		}
		c.send(t, notification(NonConfirmable, Content, 0x400, reg.Token, 5, "crossing"))
		n.none(t)
		c.send(t, notification(Acknowledgement, Content, d.MessageID, d.Token, -1, "final"))
		if x := n.next(t); !x.Last || x.Err != nil || string(x.Response.Payload) != "final" {
			t.Errorf("last call %+v, want the deregistration's response", x)
		}
		if st := s.Stats(); st.Requests != 2 || st.Notifications != 1 {
			t.Errorf("Stats = %+v, want 2 requests, 1 notification", st)
		}
	})
}

// TestObserveCancelWhileRegistering: a Cancel(true) before the
// registration's response deregisters once it comes; the caller sees
// only the last call.
func TestObserveCancelWhileRegistering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		n := newNotes()
		o, err := s.Observe(get("/temp"), n.notify)
		if err != nil {
			t.Fatal(err)
		}
		reg, _ := c.recv(t, time.Second)
		if err := o.Cancel(true); err != nil {
			t.Fatal(err)
		}
		c.quiet(t, time.Second)
		c.send(t, notification(Acknowledgement, Content, reg.MessageID, reg.Token, 1, ""))
		d, _ := c.recv(t, time.Second)
		if v, _ := d.Uint(Observe); v != 1 {
			t.Fatalf("sent %v, want the deregistration", &d)
		}
		c.send(t, notification(Acknowledgement, Content, d.MessageID, d.Token, -1, ""))
		if x := n.next(t); !x.Last || x.First {
			t.Errorf("call %+v, want only the last", x)
		}
		n.none(t)
	})
}

// TestObserveLost: a session that loses its socket ends its
// observations with the error.
func TestObserveLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		n := newNotes()
		register(t, s, c, n, 1)
		n.next(t)
		c.errs <- errors.New("broken")
		if x := n.next(t); !x.Last || x.Err == nil {
			t.Errorf("call %+v, want the last with the error", x)
		}
	})
}

// TestObserveInvalid: Observe refuses what cannot be an observation.
func TestObserveInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := dialFake(t, Options{})
		n := newNotes()
		post := &Message{Type: Confirmable, Code: POST}
		if _, err := s.Observe(post, n.notify); !errors.Is(err, ErrInvalid) {
			t.Errorf("Observe(POST) = %v, want ErrInvalid", err)
		}
		req := get("/a")
		req.Token = []byte{9}
		if _, err := s.Observe(req, n.notify); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Observe(req, n.notify); !errors.Is(err, ErrInvalid) {
			t.Errorf("Observe with a token in use = %v, want ErrInvalid", err)
		}
		if err := s.Start(req, func(Result) {}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Start with an observation's token = %v, want ErrInvalid", err)
		}
	})
}

// TestNotify: the device answers a server's registration through its
// Handler and then notifies: a CON notification is retransmitted until
// the observer's empty ACK, a NON one ends once sent, an RST ends a CON
// one with a *ResetError.
func TestNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := func(req *Message) *Message {
			if v, ok := req.Uint(Observe); ok && v == 0 {
				return notification(0, Content, 0, nil, 1, "22.5")
			}
			return &Message{Code: NotFound}
		}
		s, c := dialFake(t, Options{Handler: h})
		reg := notification(Confirmable, GET, 0x500, []byte{0xab, 0xcd}, 0, "")
		reg.SetPath("/3303/0/5700")
		c.send(t, reg)
		if a, _ := c.recv(t, time.Second); a.Type != Acknowledgement || a.Code != Content || !bytes.Equal(a.Token, reg.Token) {
			t.Fatalf("registration answered %v", &a)
		}
		r := newResults()
		if err := s.Notify(reg.Token, notification(0, Content, 0, nil, 2, "23.0"), true, r.done); err != nil {
			t.Fatal(err)
		}
		first, x1 := c.recv(t, time.Second)
		again, x2 := c.recv(t, 5*time.Second) // retransmitted
		if first.Type != Confirmable || !bytes.Equal(first.Token, reg.Token) || again.MessageID != first.MessageID || x2.at <= x1.at {
			t.Fatalf("notification %v then %v, want a CON with the registration's token, retransmitted", &first, &again)
		}
		c.send(t, &Message{Type: Acknowledgement, MessageID: first.MessageID})
		if res := r.next(t, time.Second); res.Err != nil || res.Transmissions != 2 || res.Response.Type != Acknowledgement {
			t.Errorf("result %+v, want the ACK after 2 transmissions", res)
		}
		if err := s.Notify(reg.Token, notification(0, Content, 0, nil, 3, "23.5"), false, r.done); err != nil {
			t.Fatal(err)
		}
		if m, _ := c.recv(t, time.Second); m.Type != NonConfirmable {
			t.Errorf("sent %v, want a NON notification", &m)
		}
		if res := r.next(t, time.Second); res.Err != nil || res.Response != nil {
			t.Errorf("NON result %+v, want an empty one", res)
		}
		s.Notify(reg.Token, notification(0, Content, 0, nil, 4, "24.0"), true, r.done)
		m, _ := c.recv(t, time.Second)
		c.send(t, &Message{Type: Reset, MessageID: m.MessageID})
		var re *ResetError
		if res := r.next(t, time.Second); !errors.As(res.Err, &re) {
			t.Errorf("result %+v, want a *ResetError", res)
		}
		if err := s.Notify(reg.Token, get("/x"), true, r.done); !errors.Is(err, ErrInvalid) {
			t.Errorf("Notify(a request) = %v, want ErrInvalid", err)
		}
		if st := s.Stats(); st.NotificationsSent != 3 || st.Requests != 0 || st.Retransmissions != 1 {
			t.Errorf("Stats = %+v, want 3 notifications sent, 1 retransmission", st)
		}
	})
}
