package httpc_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/httpc"
)

// deadline bounds every wait in these tests.
const deadline = 10 * time.Second

func startEndpoint(t *testing.T, o endpoint.Options) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// outcome is one request's result.
type outcome struct {
	resp httpc.Response
	err  error
}

// do sends r and waits for its outcome.
func do(t *testing.T, s *httpc.Session, r httpc.Request) outcome {
	t.Helper()
	got := make(chan outcome, 1)
	if err := s.Start(r, func(resp httpc.Response, err error) { got <- outcome{resp, err} }); err != nil {
		t.Fatalf("Start(%s %s): %v", r.Method, r.Target, err)
	}
	select {
	case o := <-got:
		return o
	case <-time.After(deadline):
		t.Fatalf("%s %s: no outcome in %v", r.Method, r.Target, deadline)
	}
	return outcome{}
}

// statuses records the statuses a session saw.
type statuses struct {
	mu sync.Mutex
	s  []httpc.Status
}

func (st *statuses) add(s httpc.Status) { st.mu.Lock(); st.s = append(st.s, s); st.mu.Unlock() }
func (st *statuses) count(c httpc.Status) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, s := range st.s {
		if s == c {
			n++
		}
	}
	return n
}

func TestTelemetryDeliveredAndRequestAnswered(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{})
	got := make(chan string, 1)
	ep.OnDeliver(func(path string, payload []byte, _ time.Time) { got <- path + " " + string(payload) })
	var st statuses
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), KeepAlive: true, Status: st.add})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := do(t, s, httpc.Request{Method: "POST", Target: "/telemetry/d1", Body: []byte(`{"v":1}`), ContentType: "application/json"})
	if o.err != nil || o.resp.Status != 204 {
		t.Fatalf("POST = %v, %v; want 204", o.resp.Status, o.err)
	}
	if d := <-got; d != `/telemetry/d1 {"v":1}` {
		t.Errorf("delivered %q", d)
	}
	o = do(t, s, httpc.Request{Method: "GET", Target: "/config/d1"})
	if o.err != nil || o.resp.Status != 200 || string(o.resp.Body) != `{"ok":true}` {
		t.Errorf("GET = %v %q, %v; want 200 {\"ok\":true}", o.resp.Status, o.resp.Body, o.err)
	}
	if st.count(204) != 1 || st.count(200) != 1 {
		t.Errorf("statuses %v, want one 204 and one 200", st.s)
	}
}

func TestTooManyRequestsWaitsRetryAfter(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{Faults: endpoint.Faults{Every: 2, Status: 429, RetryAfter: time.Second}})
	var st statuses
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), KeepAlive: true, Status: st.add})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	do(t, s, httpc.Request{Method: "POST", Target: "/telemetry/d1"})
	start := time.Now()
	o := do(t, s, httpc.Request{Method: "POST", Target: "/telemetry/d1"}) // the 2nd: 429, then the 3rd: 204
	if o.err != nil || o.resp.Status != 204 {
		t.Fatalf("after 429: %v, %v; want 204", o.resp.Status, o.err)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("retried after %v, want >= Retry-After 1s", el)
	}
	if st.count(429) != 1 {
		t.Errorf("429s seen %d, want 1", st.count(429))
	}
}

func TestServiceUnavailableFailsTyped(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{Faults: endpoint.Faults{Every: 1, Status: 503}})
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := do(t, s, httpc.Request{Method: "POST", Target: "/telemetry/d1"})
	var se *httpc.StatusError
	if !errors.As(o.err, &se) || se.Code != 503 || se.Kind() != "http_503" {
		t.Fatalf("err = %v, want a *StatusError 503 of kind http_503", o.err)
	}
}

func TestLongPollDeliversCommand(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{})
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmds := make(chan string, 4)
	if err := s.StartPolling(httpc.Poll{Path: "/commands/d1", Wait: 5 * time.Second},
		func(p []byte) { cmds <- string(p) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the poll wait at the endpoint
	sent := time.Now()
	if err := ep.Push("/commands/d1", []byte(`{"cmd":"x"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-cmds:
		if c != `{"cmd":"x"}` {
			t.Errorf("command %q", c)
		}
		if el := time.Since(sent); el > 2*time.Second {
			t.Errorf("long poll took %v to deliver, want well under the 5s wait", el)
		}
	case <-time.After(deadline):
		t.Fatal("no command")
	}
}

func TestConnectionPerRequest(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{})
	var dials atomic.Int32
	d := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), Dial: d})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 3 {
		if o := do(t, s, httpc.Request{Method: "POST", Target: "/telemetry/d1"}); o.err != nil {
			t.Fatal(o.err)
		}
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("dials = %d, want 3 (one per request)", n)
	}
}

func TestKeepAliveReusesConnection(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{})
	var dials atomic.Int32
	d := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), Dial: d, KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 3 {
		if o := do(t, s, httpc.Request{Method: "POST", Target: "/telemetry/d1"}); o.err != nil {
			t.Fatal(o.err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("dials = %d, want 1", n)
	}
}

func TestServerGoneLosesSession(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{})
	lost := make(chan error, 1)
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), KeepAlive: true, Timeout: 2 * time.Second,
		Lost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep.Close()
	o := do(t, s, httpc.Request{Method: "POST", Target: "/telemetry/d1"})
	if o.err == nil {
		t.Fatal("request to a closed server succeeded")
	}
	select {
	case <-lost:
	case <-time.After(deadline):
		t.Fatal("Lost not called")
	}
	if err := s.Start(httpc.Request{Method: "GET", Target: "/x"}, nil); !errors.Is(err, httpc.ErrClosed) {
		t.Errorf("Start after loss = %v, want ErrClosed", err)
	}
}

func TestCloseUnblocksLongPoll(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{})
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartPolling(httpc.Poll{Path: "/commands/d1", Wait: time.Minute}, func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	s.Close()
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Close took %v with a long poll under way", el)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"3", 3 * time.Second, true}, {"x", 0, false}, {"-1", 0, false},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-5 * time.Second).Format(http.TimeFormat), 0, true},
		{"99999999", 24 * time.Hour, true},
	} {
		if got, ok := httpc.ParseRetryAfter(c.in, now); got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParsePoll(f *testing.F) {
	f.Add([]byte(`{"commands":["a","b"]}`))
	f.Add([]byte(`{"commands":null}`))
	f.Add([]byte(`[1]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmds, err := httpc.ParsePoll(b)
		if err == nil && len(cmds) > 4096 {
			t.Errorf("ParsePoll gave %d commands", len(cmds))
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, s string) {
		d, _ := httpc.ParseRetryAfter(s, time.Now())
		if d < 0 || d > 24*time.Hour {
			t.Errorf("ParseRetryAfter(%q) = %v, out of [0, 24h]", s, d)
		}
	})
}

func TestTooManyRequestsGivesUpAfterRetries(t *testing.T) {
	ep := startEndpoint(t, endpoint.Options{Faults: endpoint.Faults{Every: 1, Status: 429}})
	var st statuses
	s, err := httpc.Dial(t.Context(), httpc.Options{Addr: ep.Addr(), KeepAlive: true, MaxRetries: 2,
		MaxRetryAfter: 50 * time.Millisecond, Status: st.add})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := do(t, s, httpc.Request{Method: "POST", Target: "/telemetry/d1"})
	var se *httpc.StatusError
	if !errors.As(o.err, &se) || se.Code != 429 {
		t.Fatalf("err = %v, want a *StatusError 429", o.err)
	}
	if n := st.count(429); n != 3 {
		t.Errorf("429s seen %d, want 3 (the request and 2 retries)", n)
	}
}
