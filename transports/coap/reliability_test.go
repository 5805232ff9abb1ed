package coap

import (
	"bytes"
	"errors"
	"math"
	"os"
	"slices"
	"sync"
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

// OnFrame reports what the session sends on its own, and only that: the
// retransmissions of a request, the empty ACK of a server's CON, and the
// same ACK again for the server's duplicate; not a request's first send.
func TestOnFrameReportsOwnDatagrams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type frame struct {
			size       int
			retransmit bool
		}
		var mu sync.Mutex
		var got []frame
		s, c := dialFake(t, Options{Seed: 1, OnFrame: func(size int, retransmit bool) {
			mu.Lock()
			got = append(got, frame{size, retransmit})
			mu.Unlock()
		}})
		r := newResults()
		if err := s.Start(get("/a"), r.done); err != nil {
			t.Fatal(err)
		}
		first, _ := c.recv(t, time.Second)
		again, _ := c.recv(t, 4*time.Second) // the first retransmission
		c.send(t, &Message{Type: Acknowledgement, Code: Content, MessageID: again.MessageID, Token: again.Token})
		r.next(t, time.Second)
		con := &Message{Type: Confirmable, Code: Content, MessageID: 0x7777, Token: []byte{9}}
		c.send(t, con)
		c.recv(t, time.Second) // the empty ACK (the session has no observation: an RST)
		c.send(t, con)
		c.recv(t, time.Second) // the same answer to the duplicate
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		b, _ := first.MarshalBinary()
		want := []frame{{len(b), true}, {4, false}, {4, false}}
		if !slices.Equal(got, want) {
			t.Errorf("OnFrame got %v, want %v", got, want)
		}
	})
}
