package wsdev_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/wsdev"
)

const deadline = 10 * time.Second

func startEndpoint(t *testing.T) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Start(endpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

func TestFramesUpCommandsDown(t *testing.T) {
	ep := startEndpoint(t)
	up := make(chan string, 1)
	ep.OnDeliver(func(path string, p []byte, _ time.Time) { up <- path + " " + string(p) })
	down := make(chan string, 1)
	var dials atomic.Int32
	d := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}
	s, err := wsdev.Dial(t.Context(), wsdev.Options{URL: "ws://" + ep.Addr() + "/ws/d1", Dial: d, Binary: true,
		Message: func(p []byte) { down <- string(p) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if dials.Load() != 1 {
		t.Errorf("dials through the dial.Func = %d, want 1", dials.Load())
	}
	if err := s.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, up); got != "/ws/d1 hello" {
		t.Errorf("endpoint got %q", got)
	}
	if err := ep.Push("/ws/d1", []byte("cmd")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, down); got != "cmd" {
		t.Errorf("device got %q", got)
	}
	if err := s.Ping(); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func recv(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(deadline):
		t.Fatal("nothing received")
	}
	return ""
}

func TestMissedPongLosesSession(t *testing.T) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetPingHandler(func(string) error { return nil }) // never answers
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	lost := make(chan error, 1)
	s, err := wsdev.Dial(t.Context(), wsdev.Options{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/d1",
		PongTimeout: 200 * time.Millisecond, Lost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, wsdev.ErrPongTimeout) {
			t.Errorf("lost with %v, want ErrPongTimeout", err)
		}
	case <-time.After(deadline):
		t.Fatal("session not lost after a missed pong")
	}
}

func TestRefusedHandshakeTyped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, err := wsdev.Dial(t.Context(), wsdev.Options{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/d1"})
	var he *wsdev.HandshakeError
	if !errors.As(err, &he) || he.Status != 503 || he.Kind() != "http_503" {
		t.Errorf("Dial = %v, want a HandshakeError 503", err)
	}
}

func TestServerGoneLosesSession(t *testing.T) {
	ep, err := endpoint.Start(endpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	s, err := wsdev.Dial(t.Context(), wsdev.Options{URL: "ws://" + ep.Addr() + "/ws/d1", Lost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep.Close()
	select {
	case <-lost:
	case <-time.After(deadline):
		t.Fatal("session not lost when the server went")
	}
}
