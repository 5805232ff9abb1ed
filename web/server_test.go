package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestNewTokenOffLoopback(t *testing.T) {
	tests := []struct {
		addr, token string
		want        error // nil: New succeeds
	}{
		{"", "", nil},
		{"127.0.0.1:0", "", nil},
		{"127.1.2.3:8080", "", nil},
		{"localhost:0", "", nil},
		{"[::1]:0", "", nil},
		{"0.0.0.0:0", "", ErrTokenRequired},
		{":8080", "", ErrTokenRequired},
		{"[::]:0", "", ErrTokenRequired},
		{"192.168.1.2:80", "", ErrTokenRequired},
		{"viewer.example:80", "", ErrTokenRequired},
		{"0.0.0.0:0", "s3cret", nil},
	}
	for _, tt := range tests {
		_, err := New(&fakeSource{}, Options{Addr: tt.addr, Token: tt.token})
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("New(Addr %q, token %v) = %v, want %v", tt.addr, tt.token != "", err, tt.want)
		}
	}
	if _, err := New(&fakeSource{}, Options{Addr: "no-port"}); err == nil {
		t.Error(`New(Addr "no-port") = nil, want an error`)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil source) = nil, want an error")
	}
}

const secret = "correct-horse-battery-staple"

func get(t *testing.T, u string, h http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestTokenRequired(t *testing.T) {
	s, hs := newTest(t, &fakeSource{}, Options{Addr: "0.0.0.0:0", Token: secret})
	s.tick()
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	tests := []struct {
		path   string
		h      http.Header
		status int
	}{
		{"/", nil, 401},
		{"/?token=wrong", nil, 401},
		{"/?token=" + secret + "x", nil, 401},
		{"/?token=", nil, 401},
		{"/?token=" + secret, nil, 200},
		{"/", bearer(secret), 200},
		{"/", bearer("wrong"), 401},
		{"/", http.Header{"Authorization": {"Basic " + secret}}, 401},
		{"/report", nil, 401},
		{"/report?token=" + secret, nil, 404}, // not finished yet
		{"/metrics", nil, 401},
		{"/metrics?token=nope", nil, 401},
		{"/metrics?token=" + secret, nil, 200},
		{"/metrics", bearer(secret), 200},
		{"/ws", nil, 401}, // not even a websocket handshake
		{"/assets/app.js", nil, 200},
		{"/assets/vendor/uplot/uPlot.iife.min.js", nil, 200},
		{"/assets/", nil, 404},
		{"/nothing", nil, 404},
	}
	for _, tt := range tests {
		resp := get(t, hs.URL+tt.path, tt.h)
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s (%v) = %d, want %d", tt.path, tt.h, resp.StatusCode, tt.status)
		}
		if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without WWW-Authenticate", tt.path)
		}
	}

	for _, tok := range []string{"", "wrong"} {
		_, resp, err := dial(t, hs, tok, nil)
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("websocket with token %q: err %v, response %v; want 401", tok, err, resp)
		}
	}
	c, _, err := dial(t, hs, secret, nil)
	if err != nil {
		t.Fatalf("websocket with the right token: %v", err)
	}
	if m := readMessage(t, c); m.Type != "history" {
		t.Errorf("first message is %q, want history", m.Type)
	}
}

func TestOrigin(t *testing.T) {
	for _, tok := range []string{"", secret} {
		_, hs := newTest(t, &fakeSource{}, Options{Token: tok})
		host := strings.TrimPrefix(hs.URL, "http://")
		tests := []struct {
			origin string
			ok     bool
		}{
			{"", true}, // not a browser, and the token (if any) matched
			{"http://" + host, true},
			{"http://" + strings.ToUpper(host), true},
			{"https://evil.example", false},
			{"http://evil.example:" + strings.Split(host, ":")[1], false},
			{"http://" + host + ".evil.example", false},
			{"null", false},
			{"file://" + host, false},
		}
		for _, tt := range tests {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			c, resp, err := dial(t, hs, tok, h)
			if tt.ok && err != nil {
				t.Errorf("token %v, Origin %q: %v, want a connection", tok != "", tt.origin, err)
			}
			if !tt.ok && (err == nil || resp == nil || resp.StatusCode != 403) {
				t.Errorf("token %v, Origin %q: err %v, want 403", tok != "", tt.origin, err)
			}
			if c != nil {
				c.Close()
			}
		}
	}
}

func TestHostWithoutToken(t *testing.T) {
	_, hs := newTest(t, &fakeSource{}, Options{})
	for _, tt := range []struct {
		host   string
		status int
	}{
		{"", 200}, // the client's own: 127.0.0.1:port
		{"localhost:1234", 200},
		{"[::1]:80", 200},
		{"evil.example:80", 403},
		{"evil.example", 403},
		{"10.0.0.1", 403},
	} {
		req, _ := http.NewRequest("GET", hs.URL+"/", nil)
		if tt.host != "" {
			req.Host = tt.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET / with Host %q = %d, want %d", tt.host, resp.StatusCode, tt.status)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	s, hs := newTest(t, &fakeSource{}, Options{})
	s.Finish([]byte("<p>done</p>"))
	for _, path := range []string{"/", "/assets/app.js", "/metrics", "/report", "/nothing"} {
		resp := get(t, hs.URL+path, nil)
		h := resp.Header
		want := pageCSP
		if path == "/report" {
			want = reportCSP
		}
		if got := h.Get("Content-Security-Policy"); got != want {
			t.Errorf("GET %s: CSP %q, want %q", path, got, want)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if h.Get(k) != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, h.Get(k), v)
			}
		}
	}
	for _, csp := range []string{pageCSP, reportCSP} {
		for _, bad := range []string{"http:", "https:", "*", "unsafe-eval"} {
			if strings.Contains(csp, bad) {
				t.Errorf("CSP %q allows %q", csp, bad)
			}
		}
	}
	for path, ct := range map[string]string{"/": "text/html", "/assets/app.js": "text/javascript", "/assets/app.css": "text/css"} {
		if got := get(t, hs.URL+path, nil).Header.Get("Content-Type"); !strings.HasPrefix(got, ct) {
			t.Errorf("GET %s: Content-Type %q, want %s", path, got, ct)
		}
	}
}

func TestStartURLAndLog(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src := &fakeSource{}
	s, err := New(src, Options{Token: secret, Tick: 10 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/?token="+secret) {
		t.Errorf("Start() = %q, want http://127.0.0.1:port/?token=...", u)
	}
	if _, err := s.Start(); err == nil {
		t.Error("a second Start() = nil, want an error")
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s = %d", strings.TrimSuffix(u, secret), resp.StatusCode)
	}
	eventually(t, 5*time.Second, "the ticker pulls the source", func() bool { return src.callCount() >= 6 })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start() after Close = %v, want ErrClosed", err)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds the token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "live view listening") {
		t.Errorf("the log does not say where the view listens:\n%s", logs.String())
	}
}

func TestPageURL(t *testing.T) {
	s, _ := New(&fakeSource{}, Options{Addr: "0.0.0.0:0", Token: "a b&c"})
	u, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if !strings.HasPrefix(u, "http://localhost:") || !strings.HasSuffix(u, "/?token=a+b%26c") {
		t.Errorf("Start() = %q, want localhost and an escaped token", u)
	}
}

func TestFinish(t *testing.T) {
	s, hs := newTest(t, &fakeSource{}, Options{})
	s.tick()
	c, _, err := dial(t, hs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := readMessage(t, c); m.Type != "history" || m.Report != "" {
		t.Fatalf("first message: type %q report %q, want a history without report", m.Type, m.Report)
	}
	if resp := get(t, hs.URL+"/report", nil); resp.StatusCode != 404 {
		t.Errorf("GET /report before Finish = %d, want 404", resp.StatusCode)
	}
	html := []byte("<!doctype html><title>report</title><p>all passed</p>")
	s.Finish(html)
	html[0] = 'X' // Finish keeps its own copy
	if m := readMessage(t, c); m.Type != "frame" || m.Report != reportPath || m.Live == nil {
		t.Errorf("after Finish: type %q report %q live %v, want a frame with report %q", m.Type, m.Report, m.Live != nil, reportPath)
	}
	resp, err := http.Get(hs.URL + "/report")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "<!doctype html><title>report</title>") {
		t.Errorf("GET /report = %d %q", resp.StatusCode, body)
	}
	// A viewer that comes after the end learns it from its history.
	c2, _, err := dial(t, hs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := readMessage(t, c2); m.Type != "history" || m.Report != reportPath {
		t.Errorf("late history: type %q report %q, want report %q", m.Type, m.Report, reportPath)
	}
}

// TestFinishRunning checks that Finish has the running ticker pull the
// source one last time, and that nothing calls the source after it.
func TestFinishRunning(t *testing.T) {
	src := &fakeSource{}
	s, err := New(src, Options{Tick: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	eventually(t, 5*time.Second, "the first tick", func() bool { return src.callCount() == 2 })
	s.Finish([]byte("done"))
	if n := src.callCount(); n != 4 {
		t.Errorf("source calls after Finish = %d, want 4 (first tick and last tick)", n)
	}
	select {
	case <-s.tickerDone:
	default:
		t.Error("the ticker still runs after Finish")
	}
	s.Finish([]byte("again")) // a second call does not block
	if got := *s.hub.report.Load(); string(got) != "again" {
		t.Errorf("report = %q, want the second Finish's", got)
	}
}

func TestCloseBeforeStart(t *testing.T) {
	s, err := New(&fakeSource{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	s.Finish([]byte("x")) // after Close: stores, does not block
}

// TestCloseLeavesNoGoroutine runs a started server with viewers, closes
// it, and waits for the goroutine count to come back.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := numGoroutine()
	s, err := New(&fakeSource{}, Options{Tick: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	hsURL := strings.TrimSuffix(u, "/")
	closes := make(chan int, 3)
	for range 3 {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hsURL, "http")+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer c.Close()
			for {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, _, err := c.ReadMessage(); err != nil {
					code := -1
					if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
						code = ce.Code
					}
					closes <- code
					return
				}
			}
		}()
	}
	eventually(t, 5*time.Second, "three viewers", func() bool { return s.hub.count() == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code := <-closes; code != websocket.CloseGoingAway {
			t.Errorf("viewer closed with %d, want a close frame %d", code, websocket.CloseGoingAway)
		}
	}
	eventually(t, 5*time.Second, "goroutines back to where they were", func() bool { return numGoroutine() <= before })
}

// TestCloseForced closes with an expired context while a viewer never
// reads: Close still returns after its goroutines, with ctx's error.
func TestCloseForced(t *testing.T) {
	src := &fakeSource{}
	s, hs := newTest(t, src, Options{})
	c, _, err := dial(t, hs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c // never reads
	eventually(t, 5*time.Second, "one viewer", func() bool { return s.hub.count() == 1 })
	for range 2000 { // fill the socket: the writer blocks in a write
		s.tick()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close(cancelled) = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if n := s.hub.count(); n != 0 {
		t.Errorf("%d viewers left after Close", n)
	}
}

// numGoroutine counts goroutines, less the default HTTP client's idle
// connections, which are not the Server's.
func numGoroutine() int {
	http.DefaultClient.CloseIdleConnections()
	return runtime.NumGoroutine()
}
