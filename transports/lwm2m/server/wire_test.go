package server_test

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

// rawDevice is a UDP socket that speaks to the server byte by byte.
type rawDevice struct {
	t    *testing.T
	conn net.Conn
}

func dialRaw(t *testing.T, s *server.Server) *rawDevice {
	t.Helper()
	c, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawDevice{t, c}
}

func (d *rawDevice) send(m *coap.Message) []byte {
	d.t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.conn.Write(b); err != nil {
		d.t.Fatal(err)
	}
	return b
}

// recv returns the next datagram from the server, raw and decoded.
func (d *rawDevice) recv(timeout time.Duration) ([]byte, *coap.Message) {
	d.t.Helper()
	d.conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	n, err := d.conn.Read(buf)
	if err != nil {
		d.t.Fatalf("no datagram from the server: %v", err)
	}
	var m coap.Message
	if err := coap.Decode(buf[:n], &m); err != nil {
		d.t.Fatalf("server sent %x: %v", buf[:n], err)
	}
	return buf[:n], m.Clone()
}

func registerMsg(mid uint16, query ...string) *coap.Message {
	m := &coap.Message{Type: coap.Confirmable, Code: coap.POST, MessageID: mid, Token: []byte{9, byte(mid)}}
	m.SetPath("/rd")
	for _, q := range query {
		m.AddQuery(q)
	}
	m.SetUint(coap.ContentFormat, coap.LinkFormat)
	m.Payload = []byte("</1/0>,</3/0>")
	return m
}

// A retransmitted Register gets the same answer from the cache and
// registers once; bad input gets 4.00 with a diagnostic payload; an
// Update of an unknown location 4.04.
func TestRegistrationWire(t *testing.T) {
	s := startServer(t, server.Config{})
	d := dialRaw(t, s)
	reg := registerMsg(0x100, "ep=raw", "lt=60", "lwm2m=1.1", "b=U")
	d.send(reg)
	first, m := d.recv(time.Second)
	if m.Type != coap.Acknowledgement || m.Code != coap.Created || m.MessageID != 0x100 || !bytes.Equal(m.Token, reg.Token) {
		t.Fatalf("register answered %v", m)
	}
	loc := m.Options
	d.send(reg)
	again, _ := d.recv(time.Second)
	if !bytes.Equal(first, again) {
		t.Errorf("retransmission answered %x, first %x: want the same bytes", again, first)
	}
	if st := s.Stats(); st.Registrations != 1 || st.Duplicates != 1 {
		t.Errorf("stats: %d registrations, %d duplicates: want 1 and 1", st.Registrations, st.Duplicates)
	}
	for i, tc := range []struct {
		query []string
		code  coap.Code
		diag  string
	}{
		{[]string{"lt=60"}, coap.BadRequest, "register without an endpoint name (ep)"},
		{[]string{"ep=x", "lt=abc"}, coap.BadRequest, `lifetime "abc" is not 1 to 4294967295 seconds`},
		{[]string{"ep=x", "b=Z"}, coap.BadRequest, `binding "Z" is not of U, S, N, T, Q each once`},
	} {
		d.send(registerMsg(uint16(0x200+i), tc.query...))
		_, m := d.recv(time.Second)
		if m.Code != tc.code || string(m.Payload) != tc.diag {
			t.Errorf("register %v: %v %q, want %v %q", tc.query, m.Code, m.Payload, tc.code, tc.diag)
		}
	}
	up := &coap.Message{Type: coap.Confirmable, Code: coap.POST, MessageID: 0x300, Token: []byte{1}}
	up.SetPath("/rd/nosuch")
	d.send(up)
	if _, m := d.recv(time.Second); m.Code != coap.NotFound {
		t.Errorf("update of an unknown location: %v, want 4.04", m.Code)
	}
	up = &coap.Message{Type: coap.Confirmable, Code: coap.POST, MessageID: 0x301, Token: []byte{2}}
	for _, o := range loc {
		up.AddOption(coap.URIPath, o.Value)
	}
	up.AddQuery("lt=120")
	d.send(up)
	if _, m := d.recv(time.Second); m.Code != coap.Changed {
		t.Errorf("update: %v, want 2.04", m.Code)
	}
	if r, _ := s.Registration("raw"); r.Lifetime != 120*time.Second {
		t.Errorf("lifetime after the update %v, want 2m0s", r.Lifetime)
	}
	if st := s.Stats(); st.Rejected != 3 {
		t.Errorf("rejected %d, want 3", st.Rejected)
	}
}

// The server's requests to a device that does not answer are
// retransmitted as RFC 7252 §4.2 says: after T, 2T, 4T, 8T with T drawn
// from [AckTimeout, 1.5*AckTimeout), then the request times out.
func TestRequestRetransmission(t *testing.T) {
	const ack = 50 * time.Millisecond
	s := startServer(t, server.Config{AckTimeout: ack})
	d := dialRaw(t, s)
	d.send(registerMsg(1, "ep=mute"))
	d.recv(time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(ctx(t, 10*time.Second), "mute", lwm2m.ResourcePath(3, 0, 0), lwm2m.FormatText)
		errc <- err
	}()
	var at []time.Time
	var mid uint16
	for i := range 5 {
		_, m := d.recv(5 * time.Second)
		at = append(at, time.Now())
		if m.Type != coap.Confirmable || m.Code != coap.GET || m.Path() != "/3/0/0" || i > 0 && m.MessageID != mid {
			t.Fatalf("transmission %d: %v", i, m)
		}
		mid = m.MessageID
	}
	err := <-errc
	var te *coap.TimeoutError
	if !errors.As(err, &te) || te.Transmissions != 5 {
		t.Fatalf("read of a mute device: %v, want a timeout after 5 transmissions", err)
	}
	// Never early; late only by what a loaded machine's scheduler adds
	// (the exact schedule is the client's synctest test's to pin).
	for i := 1; i < len(at); i++ {
		gap, lo := at[i].Sub(at[i-1]), ack<<(i-1)
		if gap < lo-5*time.Millisecond || gap > lo*3/2+300*time.Millisecond {
			t.Errorf("gap %d: %v, want within [%v, %v) and scheduling slack", i, gap, lo, lo*3/2)
		}
	}
	if st := s.Stats(); st.Retransmissions != 4 || st.Timeouts != 1 {
		t.Errorf("stats: %d retransmissions, %d timeouts: want 4 and 1", st.Retransmissions, st.Timeouts)
	}
}

// A device may acknowledge a request at once and answer later in its
// own confirmable message (RFC 7252 §5.2.2), which the server
// acknowledges.
func TestSeparateResponse(t *testing.T) {
	s := startServer(t, server.Config{})
	d := dialRaw(t, s)
	d.send(registerMsg(1, "ep=slow"))
	d.recv(time.Second)
	type answer struct {
		resp *server.Response
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := s.Read(ctx(t, 10*time.Second), "slow", lwm2m.ResourcePath(3, 0, 0), lwm2m.FormatText)
		done <- answer{resp, err}
	}()
	_, req := d.recv(time.Second)
	d.send(&coap.Message{Type: coap.Acknowledgement, Code: coap.Empty, MessageID: req.MessageID})
	resp := &coap.Message{Type: coap.Confirmable, Code: coap.Content, MessageID: 0x777, Token: req.Token, Payload: []byte("later")}
	resp.SetUint(coap.ContentFormat, coap.TextPlain)
	d.send(resp)
	if _, ack := d.recv(time.Second); ack.Type != coap.Acknowledgement || ack.MessageID != 0x777 {
		t.Errorf("separate response acknowledged with %v", ack)
	}
	a := <-done
	if a.err != nil || a.resp.Code != coap.Content || string(a.resp.Payload) != "later" {
		t.Fatalf("read: %+v, %v", a.resp, a.err)
	}
}

// A registration whose lifetime passes without an Update expires.
func TestRegistrationExpires(t *testing.T) {
	s := startServer(t, server.Config{ExpiryGrace: time.Millisecond})
	expired := make(chan string, 1)
	s.OnExpire(func(ep string, _ time.Time) { expired <- ep })
	d := dialRaw(t, s)
	d.send(registerMsg(1, "ep=short", "lt=1"))
	d.recv(time.Second)
	select {
	case ep := <-expired:
		if ep != "short" || s.Registered() != 0 || s.Stats().Expired != 1 {
			t.Errorf("expired %q; %d registered, %d expired: want short, 0, 1", ep, s.Registered(), s.Stats().Expired)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the registration did not expire within 5s")
	}
}

// The bounds: MaxRegistrations refuses a new endpoint with 5.03 (not a
// known one re-registering); QueueLimit refuses requests for a sleeping
// device with ErrBusy, and its queued requests fail with
// ErrDeregistered when it de-registers.
func TestBounds(t *testing.T) {
	s := startServer(t, server.Config{MaxRegistrations: 1, QueueLimit: 2, AwakeTime: time.Millisecond})
	d := dialRaw(t, s)
	d.send(registerMsg(1, "ep=one", "Q"))
	d.recv(time.Second)
	d.send(registerMsg(2, "ep=two"))
	if _, full := d.recv(time.Second); full.Code != coap.ServiceUnavailable {
		t.Errorf("a second endpoint: %v, want 5.03", full.Code)
	}
	d.send(registerMsg(3, "ep=one", "Q"))
	_, again := d.recv(time.Second)
	if again.Code != coap.Created {
		t.Errorf("re-registration: %v, want 2.01", again.Code)
	}
	eventually(t, time.Second, "the awake time over", func() bool {
		r, _ := s.Registration("one")
		return time.Now().After(r.AwakeUntil)
	})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.Read(ctx(t, 10*time.Second), "one", lwm2m.ResourcePath(3, 0, 0), lwm2m.FormatText)
			errs <- err
		}()
	}
	eventually(t, time.Second, "two requests queued", func() bool {
		r, _ := s.Registration("one")
		return r.Queued == 2
	})
	if _, err := s.Read(ctx(t, time.Second), "one", lwm2m.ResourcePath(3, 0, 0), lwm2m.FormatText); !errors.Is(err, server.ErrBusy) {
		t.Errorf("a third request: %v, want ErrBusy", err)
	}
	if _, err := s.Read(ctx(t, time.Second), "nobody", lwm2m.ResourcePath(3, 0, 0), lwm2m.FormatText); !errors.Is(err, server.ErrNotRegistered) {
		t.Errorf("a request to nobody: %v, want ErrNotRegistered", err)
	}
	del := &coap.Message{Type: coap.Confirmable, Code: coap.DELETE, MessageID: 4, Token: []byte{4}}
	for _, o := range again.Options {
		if o.ID == coap.LocationPath {
			del.AddOption(coap.URIPath, o.Value)
		}
	}
	d.send(del)
	if _, m := d.recv(time.Second); m.Code != coap.Deleted {
		t.Fatalf("de-register: %v", m.Code)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, server.ErrDeregistered) {
			t.Errorf("a queued request after the de-registration: %v, want ErrDeregistered", err)
		}
	}
}

// Notifications a link reordered are dropped when older than one
// delivered (RFC 7641 §3.4); each is acknowledged all the same.
func TestStaleNotification(t *testing.T) {
	s := startServer(t, server.Config{})
	d := dialRaw(t, s)
	d.send(registerMsg(1, "ep=obs"))
	d.recv(time.Second)
	got := make(chan uint32, 8)
	go func() {
		_, _, err := s.Observe(ctx(t, 5*time.Second), "obs", lwm2m.ResourcePath(3, 0, 9), lwm2m.FormatText,
			func(n server.Notification) { got <- n.Observe })
		if err != nil {
			t.Errorf("observe: %v", err)
		}
	}()
	_, req := d.recv(time.Second)
	ack := &coap.Message{Type: coap.Acknowledgement, Code: coap.Content, MessageID: req.MessageID, Token: req.Token, Payload: []byte("50")}
	ack.SetUint(coap.Observe, 5)
	d.send(ack)
	for i, seq := range []uint32{7, 6, 8} {
		n := &coap.Message{Type: coap.Confirmable, Code: coap.Content, MessageID: uint16(0x500 + i), Token: req.Token, Payload: []byte("49")}
		n.SetUint(coap.Observe, seq)
		d.send(n)
		if _, a := d.recv(time.Second); a.Type != coap.Acknowledgement || a.MessageID != n.MessageID {
			t.Fatalf("notification %d answered %v", seq, a)
		}
	}
	for _, want := range []uint32{7, 8} {
		select {
		case seq := <-got:
			if seq != want {
				t.Errorf("delivered %d, want %d", seq, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("notification %d not delivered", want)
		}
	}
	if st := s.Stats(); st.Stale != 1 || st.Notifications != 3 {
		t.Errorf("stats: %d stale of %d: want 1 of 3", st.Stale, st.Notifications)
	}
}

// A Register from a known endpoint at a new address replaces its
// registration: the new address, a new location; the old one is gone.
func TestReregisterFromNewAddress(t *testing.T) {
	s := startServer(t, server.Config{})
	old, cur := dialRaw(t, s), dialRaw(t, s)
	old.send(registerMsg(1, "ep=moved"))
	_, first := old.recv(time.Second)
	cur.send(registerMsg(1, "ep=moved"))
	_, second := cur.recv(time.Second)
	r, _ := s.Registration("moved")
	if r.Addr.String() != cur.conn.LocalAddr().String() || s.Registered() != 1 {
		t.Errorf("registration at %v (%d registered), want %v (1)", r.Addr, s.Registered(), cur.conn.LocalAddr())
	}
	if location(first) == location(second) {
		t.Errorf("the same location twice: %s", location(first))
	}
	up := &coap.Message{Type: coap.Confirmable, Code: coap.POST, MessageID: 2, Token: []byte{2}}
	for _, o := range first.Options {
		if o.ID == coap.LocationPath {
			up.AddOption(coap.URIPath, o.Value)
		}
	}
	old.send(up)
	if _, m := old.recv(time.Second); m.Code != coap.NotFound {
		t.Errorf("an Update of the replaced location: %v, want 4.04", m.Code)
	}
}

// location returns a response's Location-Path, "/rd/x".
func location(m *coap.Message) string {
	var loc string
	for _, o := range m.Options {
		if o.ID == coap.LocationPath {
			loc += "/" + string(o.Value)
		}
	}
	return loc
}
