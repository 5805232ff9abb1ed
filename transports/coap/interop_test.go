package coap_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
	"github.com/m2msim/m2msim/transports/coap/server"
)

// eventually polls cond until it holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// watcher collects an observation's calls.
type watcher struct {
	mu  sync.Mutex
	got []coap.Notification
}

func (w *watcher) notify(n coap.Notification) {
	if n.Response != nil {
		n.Response = n.Response.Clone()
	}
	w.mu.Lock()
	w.got = append(w.got, n)
	w.mu.Unlock()
}

func (w *watcher) calls() []coap.Notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]coap.Notification(nil), w.got...)
}

func (w *watcher) len() int { return len(w.calls()) }

func (w *watcher) last() coap.Notification {
	c := w.calls()
	if len(c) == 0 {
		return coap.Notification{}
	}
	return c[len(c)-1]
}

// servers are the real servers a test runs against: libcoap's
// coap-server-notls and the embedded one.
func servers(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"libcoap": func(t *testing.T) string { return coaptest.StartServer(t, "notls").Addr() },
		"embedded": func(t *testing.T) string {
			srv, err := server.Start("127.0.0.1:0", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			return srv.Addr()
		},
	}
}

// TestObserveLibcoapTime observes libcoap's /time, which changes every
// second: the registration's response and 3 notifications come within
// 5 s, each newer than the last (libcoap sends them confirmable); a
// deregistration ends it with a 2.05 without Observe.
func TestObserveLibcoapTime(t *testing.T) {
	srv := coaptest.StartServer(t, "notls")
	s := dial(t, coap.Options{Addr: srv.Addr(), Seed: 1})
	var w watcher
	o, err := s.Observe(request(coap.Confirmable, coap.GET, "/time", ""), w.notify)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "3 notifications of /time", func() bool { return w.len() >= 4 })
	if err := o.Cancel(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "deregistration", func() bool { return w.last().Last })
	calls := w.calls()
	if !calls[0].First || calls[0].Response.Code != coap.Content {
		t.Errorf("first call %+v", calls[0])
	}
	for i := 1; i < len(calls)-1; i++ {
		if c := calls[i]; c.Observe <= calls[i-1].Observe || c.Response.Code != coap.Content || len(c.Response.Payload) == 0 {
			t.Errorf("notification %d: %+v after %d", i, c, calls[i-1].Observe)
		}
	}
	if end := calls[len(calls)-1]; end.Err != nil || end.Response.Code != coap.Content {
		t.Errorf("last call %+v, want the deregistration's 2.05", end)
	} else if _, ok := end.Response.Option(coap.Observe); ok {
		t.Errorf("deregistration answered with an Observe option: %v", end.Response)
	}
	if st := s.Stats(); st.Notifications < 3 || st.Stale != 0 || st.Unmatched != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestObserveDynamic: a resource one session PUTs, another observes;
// each PUT is notified, in order. Cancel without deregistering makes
// the next notification an RST, after which the server sends none.
func TestObserveDynamic(t *testing.T) {
	for name, start := range servers(t) {
		t.Run(name, func(t *testing.T) {
			addr := start(t)
			writer := dial(t, coap.Options{Addr: addr, Seed: 1})
			dev := dial(t, coap.Options{Addr: addr, Seed: 2})
			put := func(v string) { do(t, writer, request(coap.Confirmable, coap.PUT, "/m2msim/obs", v), coap.Changed) }
			do(t, writer, request(coap.Confirmable, coap.PUT, "/m2msim/obs", "v0"), coap.Created)
			var w watcher
			o, err := dev.Observe(request(coap.Confirmable, coap.GET, "/m2msim/obs", ""), w.notify)
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, "registration", func() bool { return w.len() == 1 })
			for i, v := range []string{"v1", "v2", "v3"} {
				put(v)
				eventually(t, 5*time.Second, "notification of "+v, func() bool { return w.len() == i+2 })
				if got := w.last(); string(got.Response.Payload) != v || got.Last {
					t.Fatalf("notification %+v, want %s", got, v)
				}
			}
			o.Cancel(false)
			eventually(t, 5*time.Second, "the end of the observation", func() bool { return w.last().Last })
			if err := w.last().Err; !errors.Is(err, coap.ErrCanceled) {
				t.Errorf("last call's Err = %v, want ErrCanceled", err)
			}
			put("after")
			eventually(t, 5*time.Second, "the RST of the next notification", func() bool { return dev.Stats().Unmatched == 1 })
			// A round trip on the device's socket: the server has taken the
			// RST, sent before it, when the answer comes.
			do(t, dev, request(coap.Confirmable, coap.GET, "/m2msim/obs", ""), coap.Content)
			put("after2")
			do(t, dev, request(coap.Confirmable, coap.GET, "/m2msim/obs", ""), coap.Content)
			if st := dev.Stats(); st.Unmatched != 1 || st.Notifications != 3 || st.Stale != 0 {
				t.Errorf("device Stats = %+v, want 3 notifications, 1 rejected", st)
			}
		})
	}
}

// TestBlockwiseReal uploads a 3200-byte body in 256-byte Block1 blocks
// and downloads it back in Block2 blocks, of the server's size and of
// 64 bytes.
func TestBlockwiseReal(t *testing.T) {
	body := bytes.Repeat([]byte("m2msim-blockwise"), 200)
	for name, start := range servers(t) {
		t.Run(name, func(t *testing.T) {
			s := dial(t, coap.Options{Addr: start(t), Seed: 1})
			done := make(chan coap.TransferResult, 1)
			cb := func(r coap.TransferResult) { done <- r }
			up := request(coap.Confirmable, coap.PUT, "/m2msim/fw", string(body))
			if err := s.Upload(up, coap.TransferOptions{BlockSize: 256}, cb); err != nil {
				t.Fatal(err)
			}
			r := waitTransfer(t, done)
			if r.Err != nil || r.Response.Code != coap.Created || r.Blocks != 13 || r.Bytes != 3200 {
				t.Fatalf("upload: %+v", r)
			}
			for _, size := range []int{0, 64} {
				if err := s.Download(request(coap.Confirmable, coap.GET, "/m2msim/fw", ""), coap.TransferOptions{BlockSize: size}, cb); err != nil {
					t.Fatal(err)
				}
				r := waitTransfer(t, done)
				if r.Err != nil || !bytes.Equal(r.Response.Payload, body) || r.Size != 3200 || r.Elapsed <= 0 {
					t.Fatalf("download in blocks of %d: %v, %+v", size, r.Err, r.Progress)
				}
				n := size
				if n == 0 {
					n = 1024 // both servers' choice
				}
				if want := (3200 + n - 1) / n; r.Blocks != want {
					t.Errorf("download in blocks of %d: %d blocks, want %d", size, r.Blocks, want)
				}
				t.Logf("download in blocks of %d: %d blocks in %v", size, r.Blocks, r.Elapsed)
			}
			if st := s.Stats(); st.Retransmissions != 0 || st.Timeouts != 0 {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
}

func waitTransfer(t *testing.T, done chan coap.TransferResult) coap.TransferResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("transfer not done within 30s")
	}
	panic("unreachable")
}

// TestBlockwiseNegotiation: against an embedded server of 64-byte
// blocks, a plain upload larger than that is answered 4.13 and goes
// again in 64-byte blocks; one in 1024-byte blocks goes on in 64 after
// the first; a download asking 1024 gets 64.
func TestBlockwiseNegotiation(t *testing.T) {
	srv, err := server.StartConfig("127.0.0.1:0", nil, server.Config{BlockSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s := dial(t, coap.Options{Addr: srv.Addr(), Seed: 1})
	done := make(chan coap.TransferResult, 1)
	cb := func(r coap.TransferResult) { done <- r }
	for _, c := range []struct {
		size, blocks int
	}{
		{200, 1 + 4},                  // the refused plain request, then 4 blocks
		{3000, 1 + (3000-1024+63)/64}, // one of 1024, then 64s
	} {
		body := bytes.Repeat([]byte{'u'}, c.size)
		s.Upload(request(coap.Confirmable, coap.POST, "/n", string(body)), coap.TransferOptions{BlockSize: 1024}, cb)
		if r := waitTransfer(t, done); r.Err != nil || r.Response.Code.Class() != 2 || r.Blocks != c.blocks {
			t.Errorf("upload of %d: %v %+v, want %d blocks", c.size, r.Err, r.Progress, c.blocks)
		}
	}
	s.Download(request(coap.Confirmable, coap.GET, "/n", ""), coap.TransferOptions{BlockSize: 1024}, cb)
	if r := waitTransfer(t, done); r.Err != nil || len(r.Response.Payload) != 3200 || r.Blocks != 50 {
		t.Errorf("download: %v %+v", r.Err, r.Progress)
	}
}
