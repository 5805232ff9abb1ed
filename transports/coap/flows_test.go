package coap

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// TestSeparateResponse plays RFC 7252 Figure 17 byte for byte (the
// fixtures): an empty ACK, then the response in its own CON, which the
// session acknowledges. The empty ACK frees the NSTART slot at once.
func TestSeparateResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		r := newResults()
		req := fixtures[2].msg // CON GET /temperature, token 0x73
		s.Start(&req, r.done)
		m, x := c.recv(t, time.Second)
		want := fixtures[2].wire(t)
		want[2], want[3] = byte(m.MessageID>>8), byte(m.MessageID) // the session's message id
		if !bytes.Equal(x.b, want) {
			t.Errorf("request %x, want %x", x.b, want)
		}
		c.send(t, &Message{Type: Acknowledgement, MessageID: m.MessageID}) // A.2's empty ACK
		s.Start(get("/next"), r.done)
		m2, _ := c.recv(t, time.Second)
		if m2.Path() != "/next" {
			t.Errorf("after the empty ACK the session sent %v, want GET /next", &m2)
		}
		c.send(t, &Message{Type: Acknowledgement, Code: Content, MessageID: m2.MessageID, Token: m2.Token})
		if res := r.next(t, time.Second); res.Err != nil {
			t.Fatal(res.Err)
		}
		c.quiet(t, time.Minute) // acknowledged: no retransmission
		c.in <- fixtures[4].wire(t)
		if _, x := c.recv(t, time.Second); !bytes.Equal(x.b, fixtures[5].wire(t)) {
			t.Errorf("ACK of the separate response %x, want %x", x.b, fixtures[5].wire(t))
		}
		res := r.next(t, time.Second)
		if res.Err != nil || !res.Separate || string(res.Response.Payload) != "22.5 C" || res.Response.Code != Content {
			t.Errorf("result %+v", res)
		}
		c.in <- fixtures[4].wire(t) // a duplicate: acknowledged again, not delivered
		if _, x := c.recv(t, time.Second); !bytes.Equal(x.b, fixtures[5].wire(t)) {
			t.Errorf("ACK of the duplicate %x, want %x", x.b, fixtures[5].wire(t))
		}
		synctest.Wait()
		r.none(t)
		if st := s.Stats(); st.Separate != 1 || st.Duplicates != 1 || st.Codes[Content] != 2 {
			t.Errorf("Stats = %+v", st)
		}
	})
}

// TestSeparateResponseTimeout: an empty ACK and then nothing ends the
// exchange after ResponseTimeout with a response_timeout.
func TestSeparateResponseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		r := newResults()
		s.Start(get("/async"), r.done)
		m, _ := c.recv(t, time.Second)
		start := time.Now()
		c.send(t, &Message{Type: Acknowledgement, MessageID: m.MessageID})
		res := r.next(t, 5*time.Minute)
		var te *TimeoutError
		if !errors.As(res.Err, &te) || te.Kind() != "response_timeout" || !te.Acked {
			t.Errorf("Err = %v, want a response timeout", res.Err)
		}
		// MAX_TRANSMIT_WAIT = 2s * 31 * 1.5.
		if d := time.Since(start); d != 93*time.Second {
			t.Errorf("gave up after %v, want 93s", d)
		}
	})
}

// TestDuplicateResponse: a piggybacked response that arrives twice (a
// shaped link duplicates datagrams) ends the exchange once and counts a
// duplicate.
func TestDuplicateResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		r := newResults()
		s.Start(get("/temperature"), r.done)
		m, _ := c.recv(t, time.Second)
		resp := fixtures[1].msg // A.1's piggybacked 2.05
		resp.MessageID, resp.Token = m.MessageID, m.Token
		c.send(t, &resp)
		c.send(t, &resp)
		if res := r.next(t, time.Second); res.Err != nil || string(res.Response.Payload) != "22.3 C" {
			t.Errorf("result %+v", res)
		}
		synctest.Wait()
		r.none(t)
		if st := s.Stats(); st.Duplicates != 1 || st.Codes[Content] != 1 || st.Unmatched != 0 {
			t.Errorf("Stats = %+v", st)
		}
		c.quiet(t, time.Minute)
	})
}

// TestReset: RST ends a request's exchange with a ResetError (and no more
// retransmissions), and answers a ping.
func TestReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		r := newResults()
		s.Start(get("/x"), r.done)
		m, _ := c.recv(t, time.Second)
		c.send(t, &Message{Type: Reset, MessageID: m.MessageID})
		res := r.next(t, time.Second)
		var re *ResetError
		if !errors.As(res.Err, &re) || re.MessageID != m.MessageID || re.Kind() != "rst" {
			t.Errorf("Err = %v, want a ResetError", res.Err)
		}
		c.quiet(t, time.Minute)

		done := make(chan error, 1)
		go func() { done <- s.Ping(context.Background()) }()
		p, x := c.recv(t, time.Second)
		if !bytes.Equal(x.b[:2], []byte{0x40, 0x00}) || len(x.b) != 4 {
			t.Errorf("ping %x, want an empty CON", x.b)
		}
		c.send(t, &Message{Type: Reset, MessageID: p.MessageID})
		if err := <-done; err != nil {
			t.Errorf("Ping = %v", err)
		}
		if st := s.Stats(); st.Resets != 1 {
			t.Errorf("Resets = %d, want 1 (the ping's RST is its answer)", st.Resets)
		}
	})
}

// TestDoContext: Do gives up when ctx ends; the exchange is abandoned (no
// more retransmissions), its NSTART slot freed, a late answer counted.
func TestDoContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		errc := make(chan error, 1)
		go func() { _, err := s.Do(ctx, get("/slow")); errc <- err }()
		m, _ := c.recv(t, time.Second)
		if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v, want the context's deadline", err)
		}
		go func() { _, err := s.Do(context.Background(), get("/next")); errc <- err }()
		m2, _ := c.recv(t, time.Second)
		if m2.Path() != "/next" {
			t.Fatalf("sent %v, want GET /next at once", &m2)
		}
		c.send(t, &Message{Type: Acknowledgement, Code: Content, MessageID: m.MessageID, Token: m.Token})
		c.send(t, &Message{Type: Acknowledgement, Code: Content, MessageID: m2.MessageID, Token: m2.Token})
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		c.quiet(t, time.Minute)
		if st := s.Stats(); st.Late != 1 {
			t.Errorf("Late = %d, want 1", st.Late)
		}
	})
}

// TestNonConfirmable: a NON request is sent once, answered by a NON
// response matched by token; unanswered it times out after
// ResponseTimeout; with No-Response it ends once sent.
func TestNonConfirmable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{ResponseTimeout: 10 * time.Second})
		r := newResults()
		req := fixtures[7].msg // A.4's NON GET, token 0x74
		s.Start(&req, r.done)
		c.recv(t, time.Second)
		c.in <- fixtures[8].wire(t) // A.4's NON 2.05
		if res := r.next(t, time.Second); res.Err != nil || string(res.Response.Payload) != "22.5 C" || res.Separate {
			t.Errorf("result %+v", res)
		}
		c.quiet(t, time.Minute) // nothing to acknowledge, nothing to retransmit

		s.Start(&Message{Type: NonConfirmable, Code: GET}, r.done)
		c.recv(t, time.Second)
		c.quiet(t, 9*time.Second)
		var te *TimeoutError
		if res := r.next(t, 2*time.Second); !errors.As(res.Err, &te) || te.Kind() != "response_timeout" || te.Transmissions != 1 {
			t.Errorf("unanswered NON: %+v", res)
		}

		nr := fixtures[15].msg // NON POST with No-Response 26
		s.Start(&nr, r.done)
		s.Start(get("/after"), r.done) // not held back: no response is expected
		c.recv(t, time.Second)
		if m, _ := c.recv(t, time.Second); m.Path() != "/after" {
			t.Errorf("sent %v, want GET /after", &m)
		}
		if res := r.next(t, time.Second); res.Err != nil || res.Response != nil || res.Transmissions != 1 {
			t.Errorf("No-Response NON: %+v", res)
		}
	})
}

// TestServerRequest: a CON request from the server goes to the Handler
// and its response rides on the ACK; a duplicate gets the same ACK again
// without a second call. Without a Handler a CON is rejected with RST.
func TestServerRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		h := func(req *Message) *Message {
			calls++
			return &Message{Code: Content, Payload: []byte("v=" + req.Path())}
		}
		s, c := dialFake(t, Options{Handler: h})
		req := &Message{Type: Confirmable, Code: GET, MessageID: 0x4242, Token: []byte{9, 9}}
		req.SetPath("/3/0/0")
		c.send(t, req)
		m, x := c.recv(t, time.Second)
		if m.Type != Acknowledgement || m.MessageID != 0x4242 || !bytes.Equal(m.Token, req.Token) ||
			m.Code != Content || string(m.Payload) != "v=/3/0/0" {
			t.Errorf("answer %v", &m)
		}
		c.send(t, req)
		if _, x2 := c.recv(t, time.Second); !bytes.Equal(x2.b, x.b) {
			t.Errorf("answer to the duplicate %x, want %x", x2.b, x.b)
		}
		if calls != 1 {
			t.Errorf("Handler called %d times, want 1", calls)
		}
		ping := &Message{Type: Confirmable, Code: Empty, MessageID: 7}
		c.send(t, ping)
		if m, _ := c.recv(t, time.Second); m.Type != Reset || m.MessageID != 7 {
			t.Errorf("answer to a ping %v, want RST", &m)
		}
		if st := s.Stats(); st.ServerRequests != 1 || st.Duplicates != 1 {
			t.Errorf("Stats = %+v", st)
		}

		s2, c2 := dialFake(t, Options{})
		c2.send(t, req)
		if m, _ := c2.recv(t, time.Second); m.Type != Reset || m.MessageID != 0x4242 {
			t.Errorf("without a Handler: %v, want RST", &m)
		}
		s2.Close()
	})
}

// TestUnknownSeparateResponse: a CON response with a token the session
// does not know is rejected with RST (RFC 7252 §5.3.2).
func TestUnknownSeparateResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		c.in <- fixtures[4].wire(t)
		if m, _ := c.recv(t, time.Second); m.Type != Reset || m.MessageID != 0x23bb {
			t.Errorf("answer %v, want RST 23bb", &m)
		}
		if st := s.Stats(); st.Unmatched != 1 {
			t.Errorf("Unmatched = %d, want 1", st.Unmatched)
		}
	})
}

// TestClose: no callback after Close; Do returns ErrClosed; Start
// refuses.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		r := newResults()
		s.Start(get("/a"), r.done)
		errc := make(chan error, 1)
		go func() { _, err := s.Do(context.Background(), get("/b")); errc <- err }()
		c.recv(t, time.Second)
		synctest.Wait()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("Do = %v, want ErrClosed", err)
		}
		if err := s.Start(get("/c"), r.done); !errors.Is(err, ErrClosed) {
			t.Errorf("Start after Close = %v", err)
		}
		time.Sleep(time.Hour)
		r.none(t)
	})
}

// TestLost: a conn that fails ends every exchange with the error, then
// Options.Lost is called.
func TestLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := make(chan error, 1)
		s, c := dialFake(t, Options{Lost: func(err error) { lost <- err }})
		r := newResults()
		s.Start(get("/a"), r.done)
		s.Start(get("/b"), r.done)
		c.recv(t, time.Second)
		c.Close()
		for range 2 {
			if res := r.next(t, time.Second); res.Err == nil {
				t.Error("an exchange ended without error")
			}
		}
		if err := <-lost; err == nil {
			t.Error("Lost(nil)")
		}
	})
}

// TestQueueAfterReset: an exchange ended by RST lets the next queued
// request go at once.
func TestQueueAfterReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		r := newResults()
		s.Start(get("/a"), r.done)
		s.Start(get("/b"), r.done)
		m, _ := c.recv(t, time.Second)
		c.send(t, &Message{Type: Reset, MessageID: m.MessageID})
		if m, _ := c.recv(t, time.Millisecond); m.Path() != "/b" {
			t.Errorf("after RST the session sent %v, want GET /b", &m)
		}
	})
}

// tempErr is a temporary read error, as pion/dtls returns for a record
// longer than the read buffer.
type tempErr struct{}

func (tempErr) Error() string   { return "buffer too small" }
func (tempErr) Temporary() bool { return true }
func (tempErr) Timeout() bool   { return false }

// TestReadErrors: a refused datagram (ICMP) and a temporary error lose a
// datagram, not the session; another error ends it.
func TestReadErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := make(chan error, 1)
		s, c := dialFake(t, Options{Lost: func(err error) { lost <- err }})
		c.errs <- &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", syscall.ECONNREFUSED)}
		synctest.Wait()
		c.errs <- tempErr{}
		synctest.Wait()
		c.in <- []byte{0xff}
		synctest.Wait()
		if st := s.Stats(); st.Refused != 1 || st.Malformed != 2 {
			t.Errorf("Stats = %+v, want 1 refused, 2 malformed", st)
		}
		r := newResults()
		s.Start(get("/x"), r.done)
		m, _ := c.recv(t, time.Second)
		c.send(t, &Message{Type: Acknowledgement, Code: Content, MessageID: m.MessageID, Token: m.Token})
		if res := r.next(t, time.Second); res.Err != nil {
			t.Fatalf("after skipped errors: %v", res.Err)
		}
		c.errs <- errors.New("broken")
		if err := <-lost; err == nil || err.Error() != "coap: session lost: broken" {
			t.Errorf("Lost(%v)", err)
		}
	})
}

// TestStrayClassification: an answer to any message sent within the
// exchange lifetime is a duplicate, however many exchanges ended since;
// one to an exchange that timed out is late; anything else unmatched.
func TestStrayClassification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{MaxRetransmit: -1})
		r := newResults()
		var answers []*Message
		for range 10 {
			s.Start(get("/x"), r.done)
			m, _ := c.recv(t, time.Second)
			a := &Message{Type: Acknowledgement, Code: Content, MessageID: m.MessageID, Token: m.Token}
			c.send(t, a)
			r.next(t, time.Second)
			answers = append(answers, a)
		}
		s.Start(get("/lost"), r.done)
		lost, _ := c.recv(t, time.Second)
		r.next(t, time.Minute) // times out: no retransmissions
		c.send(t, answers[0])
		c.send(t, &Message{Type: Acknowledgement, Code: Content, MessageID: lost.MessageID, Token: lost.Token})
		c.send(t, &Message{Type: Acknowledgement, MessageID: answers[0].MessageID + 0x8000})
		synctest.Wait()
		if st := s.Stats(); st.Duplicates != 1 || st.Late != 1 || st.Unmatched != 1 {
			t.Errorf("Stats = %+v, want 1 duplicate, 1 late, 1 unmatched", st)
		}
	})
}
