package coap

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// TestBackoffSchedule checks RFC 7252 §4.2 to the nanosecond on a fake
// clock: a confirmable request the server never answers is sent at t0,
// then after T, 2T, 4T and 8T more, and times out 16T after the last,
// T being the session's seeded draw in [2s, 3s).
func TestBackoffSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{Seed: 7, Stream: 1})
		r := newResults()
		t0 := time.Since(c.epoch)
		if err := s.Start(get("/temperature"), r.done); err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		var first []byte
		for range 5 {
			_, x := c.recv(t, time.Minute)
			at = append(at, x.at-t0)
			if first == nil {
				first = x.b
			} else if !bytes.Equal(x.b, first) {
				t.Errorf("retransmission %x differs from the first transmission %x", x.b, first)
			}
		}
		res := r.next(t, 2*time.Minute)
		end := time.Since(c.epoch) - t0
		T := at[1]
		if T < 2*time.Second || T >= 3*time.Second {
			t.Fatalf("first timeout %v, want it in [2s, 3s)", T)
		}
		want := []time.Duration{0, T, 3 * T, 7 * T, 15 * T}
		if !slices.Equal(at, want) {
			t.Errorf("transmissions at %v, want %v", at, want)
		}
		if end != 31*T {
			t.Errorf("timed out at %v, want 31T = %v", end, 31*T)
		}
		var te *TimeoutError
		if !errors.As(res.Err, &te) || te.Transmissions != 5 || te.Kind() != "ack_timeout" || !errors.Is(res.Err, os.ErrDeadlineExceeded) {
			t.Errorf("Err = %v, want a TimeoutError after 5 transmissions", res.Err)
		}
		if res.Transmissions != 5 {
			t.Errorf("Transmissions = %d, want 5", res.Transmissions)
		}
		c.quiet(t, 10*time.Minute)
		st := s.Stats()
		if st.Requests != 1 || st.Transmissions != 5 || st.Retransmissions != 4 || st.Timeouts != 1 {
			t.Errorf("Stats = %+v", st)
		}
	})
}

// TestBackoffAnsweredAfterDrops drops the first n transmissions and
// answers the next: the exchange ends at (2^n - 1)T with n+1
// transmissions, and with MaxRetransmit n-1 it times out instead.
func TestBackoffAnsweredAfterDrops(t *testing.T) {
	for n := range 5 {
		synctest.Test(t, func(t *testing.T) {
			s, c := dialFake(t, Options{Seed: 3, Stream: uint64(n)})
			r := newResults()
			t0 := time.Since(c.epoch)
			s.Start(get("/x"), r.done)
			var T time.Duration
			var m Message
			for i := range n + 1 {
				var x sent
				m, x = c.recv(t, time.Minute)
				if i == 1 {
					T = x.at - t0
				}
			}
			c.send(t, &Message{Type: Acknowledgement, Code: Content, MessageID: m.MessageID, Token: m.Token, Payload: []byte("ok")})
			res := r.next(t, time.Minute)
			if want := time.Duration(1<<n-1) * T; time.Since(c.epoch)-t0 != want {
				t.Errorf("n=%d: answered at %v, want %v", n, time.Since(c.epoch)-t0, want)
			}
			if res.Err != nil || res.Transmissions != n+1 || string(res.Response.Payload) != "ok" || res.Separate {
				t.Errorf("n=%d: result %+v", n, res)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{MaxRetransmit: 2})
		r := newResults()
		s.Start(get("/x"), r.done)
		for range 3 {
			c.recv(t, time.Minute)
		}
		var te *TimeoutError
		if res := r.next(t, time.Minute); !errors.As(res.Err, &te) || te.Transmissions != 3 {
			t.Errorf("MaxRetransmit 2: %+v, want a timeout after 3 transmissions", res)
		}
		c.quiet(t, time.Hour)
	})
}

// TestInitialTimeoutDraw checks the draw against its definition: uniform
// on [AckTimeout, AckTimeout*AckRandomFactor), the same for the same
// seed, different for another.
func TestInitialTimeoutDraw(t *testing.T) {
	draws := func(seed uint64, n int) []time.Duration {
		s := newSession(newFakeConn(), Options{Seed: seed}.withDefaults())
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = s.initialTimeout()
		}
		return out
	}
	const n = 100000
	d := draws(1, n)
	var buckets [10]int
	sum := 0.0
	for _, v := range d {
		if v < 2*time.Second || v >= 3*time.Second {
			t.Fatalf("draw %v outside [2s, 3s)", v)
		}
		buckets[int((v-2*time.Second)*10/time.Second)]++
		sum += v.Seconds()
	}
	// Each tenth holds 10% of the draws: binomial sd is sqrt(n*0.1*0.9)
	// = 95, so 5 sd is 475.
	for i, b := range buckets {
		if math.Abs(float64(b)-n/10) > 475 {
			t.Errorf("draws in [%.1fs, %.1fs): %d, want %d +/- 475", 2+float64(i)/10, 2.1+float64(i)/10, b, n/10)
		}
	}
	// The mean of U(2, 3) is 2.5 s, its sd 0.289 s: 5 sd of the mean of
	// n draws is 4.6 ms.
	if mean := sum / n; math.Abs(mean-2.5) > 0.0046 {
		t.Errorf("mean draw %.4fs, want 2.5s +/- 4.6ms", mean)
	}
	if !slices.Equal(draws(1, 10), d[:10]) {
		t.Error("the same seed drew different timeouts")
	}
	if slices.Equal(draws(2, 10), d[:10]) {
		t.Error("another seed drew the same timeouts")
	}
}

// TestNStartQueue checks NSTART 1: a second request leaves only once the
// first is answered, requests past QueueLimit are refused, and the queue
// drains in order.
func TestNStartQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{QueueLimit: 2})
		r := newResults()
		for i := range 3 {
			if err := s.Start(get("/"+string(rune('a'+i))), r.done); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		var qf *QueueFullError
		if err := s.Start(get("/d"), r.done); !errors.As(err, &qf) || qf.Limit != 2 || qf.Kind() != "queue_full" {
			t.Fatalf("fourth request: %v, want a QueueFullError", err)
		}
		for i := range 3 {
			m, _ := c.recv(t, time.Second)
			if want := "/" + string(rune('a'+i)); m.Path() != want {
				t.Fatalf("request %d went to %s, want %s", i, m.Path(), want)
			}
			c.quiet(t, 1500*time.Millisecond) // NSTART: nothing else while it is outstanding
			c.send(t, &Message{Type: Acknowledgement, Code: Content, MessageID: m.MessageID, Token: m.Token})
			if res := r.next(t, time.Second); res.Err != nil {
				t.Fatalf("request %d: %v", i, res.Err)
			}
		}
	})
}

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

// TestMessageIDWindow: no id is reused within ExchangeLifetime.
func TestMessageIDWindow(t *testing.T) {
	var w idWindow
	life := 150 * time.Second
	now := time.Second
	for i := range 1 << 16 {
		if !w.take(now+time.Duration(i)*time.Millisecond, life) {
			t.Fatalf("id %d refused", i)
		}
	}
	now += 66 * time.Second
	if w.take(now, life) {
		t.Fatal("the 65,537th id within the lifetime was given")
	}
	if !w.take(now+life+life/15, life) {
		t.Fatal("ids still refused a lifetime later")
	}
	if !(&idWindow{}).take(now, -1) {
		t.Fatal("a negative lifetime must disable the check")
	}
}

// TestMessageIDExhausted: the session refuses rather than reuse an id.
func TestMessageIDExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{NStart: 1 << 20})
		go func() {
			for {
				select {
				case <-c.out:
				case <-c.closed:
					return
				}
			}
		}()
		nr := &Message{Type: NonConfirmable, Code: POST}
		nr.SetUint(NoResponse, 26)
		var err error
		for i := 0; i < 1<<16+1 && err == nil; i++ {
			err = s.Start(nr, nil)
		}
		var me *MessageIDError
		if !errors.As(err, &me) || me.Lifetime != 247*time.Second || me.Kind() != "message_ids_exhausted" {
			t.Fatalf("after 65,536 messages: %v, want a MessageIDError (247s)", err)
		}
		time.Sleep(264 * time.Second)
		if err := s.Start(nr, nil); err != nil {
			t.Fatalf("a lifetime later: %v", err)
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
