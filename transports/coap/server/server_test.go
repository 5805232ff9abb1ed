package server_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/server"
)

// start runs a server with c on a free loopback port until the test
// ends.
func start(t testing.TB, c server.Config) *server.Server {
	t.Helper()
	s, err := server.StartConfig("127.0.0.1:0", nil, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t testing.TB, addr string, o coap.Options) *coap.Session {
	t.Helper()
	o.Addr = addr
	s, err := coap.Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func req(typ coap.Type, code coap.Code, path, payload string) *coap.Message {
	m := &coap.Message{Type: typ, Code: code, Payload: []byte(payload)}
	m.SetPath(path)
	return m
}

func do(t testing.TB, s *coap.Session, m *coap.Message) *coap.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.Do(ctx, m)
	if err != nil {
		t.Fatalf("%v: %v", m, err)
	}
	return resp
}

// eventually polls cond until it holds, failing the test after d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMethods plays requests in order and checks each answer, as
// libcoap's coap-server -d would give them (POST appends here).
func TestMethods(t *testing.T) {
	srv := start(t, server.Config{})
	s := dial(t, srv.Addr(), coap.Options{Seed: 1})
	CON, NON := coap.Confirmable, coap.NonConfirmable
	withOpt := func(m *coap.Message, id coap.OptionID, v []byte) *coap.Message { m.AddOption(id, v); return m }
	json := req(CON, coap.PUT, "/j", `{"a":1}`)
	json.SetUint(coap.ContentFormat, coap.JSON)
	for i, c := range []struct {
		m       *coap.Message
		code    coap.Code
		payload string
		check   func(*coap.Message) bool
	}{
		{m: req(CON, coap.GET, "/a", ""), code: coap.NotFound},
		{m: req(CON, coap.PUT, "/a", "x"), code: coap.Created},
		{m: req(CON, coap.PUT, "/a", "y"), code: coap.Changed},
		{m: req(CON, coap.GET, "/a", ""), code: coap.Content, payload: "y"},
		{m: req(CON, coap.POST, "/a", "z"), code: coap.Changed},
		{m: req(NON, coap.GET, "/a", ""), code: coap.Content, payload: "yz"},
		{m: req(CON, coap.POST, "/b/c", "q"), code: coap.Created, check: func(r *coap.Message) bool {
			return len(r.Options) == 2 && string(r.Options[0].Value) == "b" && string(r.Options[1].Value) == "c"
		}},
		{m: req(CON, coap.DELETE, "/a", ""), code: coap.Deleted},
		{m: req(CON, coap.GET, "/a", ""), code: coap.NotFound},
		{m: req(CON, coap.DELETE, "/a", ""), code: coap.Deleted},
		{m: req(CON, coap.FETCH, "/b/c", ""), code: coap.MethodNotAllowed},
		{m: withOpt(req(CON, coap.GET, "/b/c", ""), coap.ProxyURI, []byte("coap://x/")), code: coap.ProxyingNotSupported},
		{m: withOpt(req(CON, coap.GET, "/b/c", ""), 9, nil), code: coap.BadOption},
		{m: withOpt(req(CON, coap.GET, "/b/c", ""), 10, nil), code: coap.Content, payload: "q"}, // elective: ignored
		{m: withOpt(req(CON, coap.PUT, "/b/c", "new"), coap.IfNoneMatch, nil), code: coap.PreconditionFailed},
		{m: withOpt(req(CON, coap.PUT, "/n", "new"), coap.IfNoneMatch, nil), code: coap.Created},
		{m: withOpt(req(CON, coap.PUT, "/missing", "x"), coap.IfMatch, nil), code: coap.PreconditionFailed},
		{m: json, code: coap.Created},
		{m: req(CON, coap.GET, "/j", ""), code: coap.Content, payload: `{"a":1}`, check: func(r *coap.Message) bool {
			cf, ok := r.Uint(coap.ContentFormat)
			return ok && cf == coap.JSON
		}},
		{m: req(CON, coap.GET, "/.well-known/core", ""), code: coap.Content, payload: "</b/c>;obs,</j>;obs,</n>;obs"},
	} {
		r := do(t, s, c.m)
		if r.Code != c.code || c.payload != "" && string(r.Payload) != c.payload || c.check != nil && !c.check(r) {
			t.Errorf("%d: %v = %v %q, want %v %q", i, c.m, r, r.Payload, c.code, c.payload)
		}
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v", err)
	}
	st := srv.Stats()
	if st.Requests[coap.GET] != 9 || st.Requests[coap.PUT] != 6 || st.Responses[coap.NotFound] != 2 || st.Resources != 3 {
		t.Errorf("Stats = %+v", st)
	}
}

// observer collects an observation's calls.
type observer struct {
	mu   sync.Mutex
	got  []coap.Notification
	last bool
}

func (o *observer) notify(n coap.Notification) {
	if n.Response != nil {
		n.Response = n.Response.Clone()
	}
	o.mu.Lock()
	o.got = append(o.got, n)
	o.last = o.last || n.Last
	o.mu.Unlock()
}

func (o *observer) payloads() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var p []string
	for _, n := range o.got {
		if n.Response != nil {
			p = append(p, string(n.Response.Payload))
		}
	}
	return p
}

func (o *observer) ended() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// TestObserve: Put and a client's PUT notify an observer, every second
// notification confirmable (ConfirmEvery 2); a forgotten observation's
// next notification is rejected and the server drops the observer; a
// deregistration drops it at once; DELETE ends observations with 4.04.
func TestObserve(t *testing.T) {
	srv := start(t, server.Config{ConfirmEvery: 2})
	writer := dial(t, srv.Addr(), coap.Options{Seed: 1})
	dev := dial(t, srv.Addr(), coap.Options{Seed: 2})
	if err := srv.Put("cmd", []byte("v0")); err != nil {
		t.Fatal(err)
	}
	var o observer
	obs, err := dev.Observe(req(coap.Confirmable, coap.GET, "/cmd", ""), o.notify)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "registration", func() bool { return len(o.payloads()) == 1 })
	for i, v := range []string{"v1", "v2", "v3", "v4"} {
		if i%2 == 0 {
			srv.Put("/cmd", []byte(v))
		} else {
			do(t, writer, req(coap.Confirmable, coap.PUT, "/cmd", v))
		}
		eventually(t, 5*time.Second, "notification "+v, func() bool { return len(o.payloads()) == i+2 })
	}
	if got := strings.Join(o.payloads(), ","); got != "v0,v1,v2,v3,v4" {
		t.Errorf("observed %s", got)
	}
	if st := srv.Stats(); st.Notifications != 4 || st.Confirmable != 2 || st.Observers != 1 {
		t.Errorf("server Stats = %+v, want 4 notifications, 2 confirmable", st)
	}
	obs.Cancel(false)
	srv.Put("/cmd", []byte("v5"))
	eventually(t, 5*time.Second, "observer dropped after RST", func() bool { return srv.Stats().Observers == 0 })
	if st := dev.Stats(); st.Notifications != 4 || st.Unmatched != 1 {
		t.Errorf("device Stats = %+v", st)
	}

	var o2 observer
	obs2, _ := dev.Observe(req(coap.Confirmable, coap.GET, "/cmd", ""), o2.notify)
	eventually(t, 5*time.Second, "second registration", func() bool { return srv.Stats().Observers == 1 })
	obs2.Cancel(true)
	eventually(t, 5*time.Second, "deregistration", func() bool { return o2.ended() && srv.Stats().Observers == 0 })

	var o3 observer
	dev.Observe(req(coap.Confirmable, coap.GET, "/cmd", ""), o3.notify)
	eventually(t, 5*time.Second, "third registration", func() bool { return srv.Stats().Observers == 1 })
	do(t, writer, req(coap.Confirmable, coap.DELETE, "/cmd", ""))
	eventually(t, 5*time.Second, "end on DELETE", o3.ended)
	o3.mu.Lock()
	last := o3.got[len(o3.got)-1]
	o3.mu.Unlock()
	if last.Response == nil || last.Response.Code != coap.NotFound || srv.Stats().Observers != 0 {
		t.Errorf("last call %+v, want a 4.04", last)
	}
}

// rawClient is a UDP socket speaking CoAP by hand, for what a session
// would not do: send the same datagram twice, never acknowledge.
type rawClient struct {
	t  testing.TB
	c  *net.UDPConn
	in []byte
}

func newRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	ua, _ := net.ResolveUDPAddr("udp", addr)
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, in: make([]byte, 2048)}
}

func (r *rawClient) send(m *coap.Message) []byte {
	r.t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(b)
	return b
}

func (r *rawClient) write(b []byte) {
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// recv returns the next datagram and its decoding, failing after 5 s.
func (r *rawClient) recv() ([]byte, *coap.Message) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := r.c.Read(r.in)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	var m coap.Message
	if err := coap.Decode(r.in[:n], &m); err != nil {
		r.t.Fatalf("decode %x: %v", r.in[:n], err)
	}
	return bytes.Clone(r.in[:n]), m.Clone()
}

// TestDuplicate: a request sent again with its message id is answered
// from the cache, byte for byte, and not handled twice (the second PUT
// would answer 2.04); a duplicate NON is dropped.
func TestDuplicate(t *testing.T) {
	srv := start(t, server.Config{})
	r := newRaw(t, srv.Addr())
	put := req(coap.Confirmable, coap.PUT, "/d", "1")
	put.MessageID, put.Token = 7, []byte{1}
	wire := r.send(put)
	first, m := r.recv()
	if m.Code != coap.Created {
		t.Fatalf("PUT answered %v", m)
	}
	r.write(wire)
	again, _ := r.recv()
	if !bytes.Equal(first, again) {
		t.Errorf("duplicate answered %x, want %x again", again, first)
	}
	non := req(coap.NonConfirmable, coap.POST, "/d", "2")
	non.MessageID = 8
	r.write(r.send(non))
	r.recv()
	eventually(t, 5*time.Second, "two duplicates", func() bool { return srv.Stats().Duplicates == 2 })
	if p, _ := srv.Get("/d"); string(p) != "12" {
		t.Errorf("/d = %q, want 12: a duplicate was handled twice", p)
	}
	if st := srv.Stats(); st.Requests[coap.PUT] != 1 || st.Requests[coap.POST] != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestNotifyTimeout: a confirmable notification never acknowledged is
// retransmitted MaxRetransmit times, then its observer is removed (RFC
// 7641 §4.5).
func TestNotifyTimeout(t *testing.T) {
	srv := start(t, server.Config{Confirmable: true, AckTimeout: 20 * time.Millisecond, MaxRetransmit: 2})
	srv.Put("/t", []byte("0"))
	r := newRaw(t, srv.Addr())
	reg := req(coap.Confirmable, coap.GET, "/t", "")
	reg.SetUint(coap.Observe, 0)
	reg.MessageID, reg.Token = 1, []byte{0xaa}
	r.send(reg)
	if _, m := r.recv(); m.Code != coap.Content {
		t.Fatalf("registration answered %v", m)
	}
	srv.Put("/t", []byte("1"))
	_, n1 := r.recv()
	for range 2 {
		if _, n := r.recv(); n.MessageID != n1.MessageID || n.Type != coap.Confirmable {
			t.Fatalf("retransmission %v of %v", n, n1)
		}
	}
	eventually(t, 5*time.Second, "observer removed", func() bool { return srv.Stats().Observers == 0 })
	if st := srv.Stats(); st.NotifyTimeouts != 1 || st.Retransmissions != 2 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestLimits: past each limit the server answers as documented.
func TestLimits(t *testing.T) {
	srv := start(t, server.Config{MaxResources: 2, MaxResourceSize: 100, MaxObservers: 1, MaxBytes: 150})
	s := dial(t, srv.Addr(), coap.Options{Seed: 1})
	CON := coap.Confirmable
	big := strings.Repeat("x", 101)
	if r := do(t, s, req(CON, coap.PUT, "/a", big)); r.Code != coap.RequestEntityTooLarge {
		t.Errorf("PUT of 101 bytes = %v, want 4.13", r)
	} else if n, _ := r.Uint(coap.Size1); n != 100 {
		t.Errorf("4.13 with Size1 %d, want 100", n)
	}
	do(t, s, req(CON, coap.PUT, "/a", strings.Repeat("a", 90)))
	if r := do(t, s, req(CON, coap.POST, "/a", strings.Repeat("a", 11))); r.Code != coap.RequestEntityTooLarge {
		t.Errorf("POST past the size = %v, want 4.13", r)
	}
	if r := do(t, s, req(CON, coap.PUT, "/b", strings.Repeat("b", 70))); r.Code != coap.ServiceUnavailable {
		t.Errorf("PUT past MaxBytes = %v, want 5.03", r)
	}
	do(t, s, req(CON, coap.PUT, "/b", "b"))
	if r := do(t, s, req(CON, coap.PUT, "/c", "c")); r.Code != coap.ServiceUnavailable {
		t.Errorf("PUT past MaxResources = %v, want 5.03", r)
	}
	if err := srv.Put("/c", nil); !errors.Is(err, server.ErrFull) {
		t.Errorf("Put past MaxResources = %v, want ErrFull", err)
	}
	if err := srv.Put("/a", []byte(big)); !errors.Is(err, server.ErrTooLarge) {
		t.Errorf("Put of 101 bytes = %v, want ErrTooLarge", err)
	}
	var o1, o2 observer
	s.Observe(req(CON, coap.GET, "/a", ""), o1.notify)
	eventually(t, 5*time.Second, "first registration", func() bool { return srv.Stats().Observers == 1 })
	s.Observe(req(CON, coap.GET, "/b", ""), o2.notify)
	eventually(t, 5*time.Second, "second registration refused", o2.ended)
	if o2.got[0].Response.Code != coap.Content || !o2.got[0].First {
		t.Errorf("refused registration: %+v, want a 2.05 without Observe", o2.got[0])
	}
	if st := srv.Stats(); st.ObserveRefused != 1 || st.Observers != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestBlockwise: an upload in 1024-byte blocks to a server of 64-byte
// blocks goes on in 64 (late negotiation), a download is served in the
// smaller size, a plain request over the block size gets 4.13 with the
// size, and out-of-sequence or past-the-end blocks get 4.08 and 4.02.
func TestBlockwise(t *testing.T) {
	srv := start(t, server.Config{BlockSize: 64})
	s := dial(t, srv.Addr(), coap.Options{Seed: 1})
	body := bytes.Repeat([]byte("0123456789abcdef"), 200)
	up := req(coap.Confirmable, coap.PUT, "/fw", string(body))
	done := make(chan coap.TransferResult, 1)
	if err := s.Upload(up, coap.TransferOptions{}, func(r coap.TransferResult) { done <- r }); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Err != nil || r.Response.Code != coap.Created || r.Blocks != 1+(3200-1024)/64 {
		t.Fatalf("upload: %+v", r)
	}
	if p, _ := srv.Get("/fw"); !bytes.Equal(p, body) {
		t.Fatalf("stored %d bytes, want the %d uploaded", len(p), len(body))
	}
	s.Download(req(coap.Confirmable, coap.GET, "/fw", ""), coap.TransferOptions{BlockSize: 256}, func(r coap.TransferResult) { done <- r })
	if r := <-done; r.Err != nil || !bytes.Equal(r.Response.Payload, body) || r.Blocks != 50 {
		t.Fatalf("download: %+v", r)
	}
	if resp := do(t, s, req(coap.Confirmable, coap.PUT, "/plain", string(body[:65]))); resp.Code != coap.RequestEntityTooLarge {
		t.Errorf("plain PUT of 65 bytes = %v, want 4.13", resp)
	} else if b, ok := resp.Block(coap.Block1); !ok || b.Size() != 64 {
		t.Errorf("4.13 with Block1 %+v, want a size of 64", b)
	}
	skip := req(coap.Confirmable, coap.PUT, "/skip", string(body[:64]))
	skip.SetBlock(coap.Block1, coap.Block{Num: 3, More: true, SZX: 2})
	if resp := do(t, s, skip); resp.Code != coap.RequestEntityIncomplete {
		t.Errorf("Block1 3 first = %v, want 4.08", resp)
	}
	past := req(coap.Confirmable, coap.GET, "/fw", "")
	past.SetBlock(coap.Block2, coap.Block{Num: 50, SZX: 2})
	if resp := do(t, s, past); resp.Code != coap.BadOption {
		t.Errorf("Block2 past the end = %v, want 4.02", resp)
	}
}

// TestOnUpdate: OnUpdate sees each completed write with its client and
// arrival time, an upload once with its whole body.
func TestOnUpdate(t *testing.T) {
	srv := start(t, server.Config{BlockSize: 16})
	type update struct {
		path, payload string
		peer          net.Addr
		at            time.Time
	}
	got := make(chan update, 4)
	srv.OnUpdate(func(path string, payload []byte, peer net.Addr, at time.Time) {
		got <- update{path, string(payload), peer, at}
	})
	s := dial(t, srv.Addr(), coap.Options{Seed: 1})
	before := time.Now()
	do(t, s, req(coap.Confirmable, coap.POST, "/telemetry", "t=21"))
	u := <-got
	if u.path != "/telemetry" || u.payload != "t=21" || u.peer.String() != s.LocalAddr().String() || u.at.Before(before) || u.at.After(time.Now()) {
		t.Errorf("update %+v", u)
	}
	done := make(chan coap.TransferResult, 1)
	s.Upload(req(coap.Confirmable, coap.POST, "/telemetry", strings.Repeat("y", 40)), coap.TransferOptions{BlockSize: 16}, func(r coap.TransferResult) { done <- r })
	if r := <-done; r.Err != nil {
		t.Fatal(r.Err)
	}
	if u := <-got; u.payload != strings.Repeat("y", 40) {
		t.Errorf("update of an upload %+v, want its whole body once", u)
	}
	if p, _ := srv.Get("/telemetry"); len(p) != 44 {
		t.Errorf("/telemetry holds %d bytes, want 44 (POST appends)", len(p))
	}
	srv.OnUpdate(nil)
	do(t, s, req(coap.Confirmable, coap.PUT, "/telemetry", "z"))
	select {
	case u := <-got:
		t.Errorf("update %+v after OnUpdate(nil)", u)
	default:
	}
}

// TestConcurrent runs clients that write, read and observe while Put
// pushes: every write is answered and every observer sees the last
// value. Run it with -race.
func TestConcurrent(t *testing.T) {
	srv := start(t, server.Config{Workers: 3})
	srv.Put("/shared", []byte("start"))
	const clients, each = 16, 50
	var obs [clients]observer
	var wg sync.WaitGroup
	for i := range clients {
		s := dial(t, srv.Addr(), coap.Options{Seed: 3, Stream: uint64(i), NStart: 4})
		if _, err := s.Observe(req(coap.Confirmable, coap.GET, "/shared", ""), obs[i].notify); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			path := "/c/" + string(rune('a'+i))
			for j := range each {
				for _, m := range []*coap.Message{
					req(coap.NonConfirmable, coap.PUT, path, strings.Repeat("p", j)),
					req(coap.Confirmable, coap.GET, path, ""),
				} {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := s.Do(ctx, m)
					cancel()
					if err != nil {
						t.Errorf("%v: %v", m, err)
						return
					}
				}
			}
		})
	}
	for j := range each {
		srv.Put("/shared", []byte{byte('0' + j%10)})
	}
	wg.Wait()
	srv.Put("/shared", []byte("end"))
	for i := range obs {
		eventually(t, 10*time.Second, "the last value observed", func() bool {
			p := obs[i].payloads()
			return len(p) > 0 && p[len(p)-1] == "end"
		})
	}
	if st := srv.Stats(); st.Requests[coap.PUT] != clients*each || st.Resources != clients+1 || st.Dropped != 0 {
		t.Errorf("Stats = %+v", st)
	}
}
