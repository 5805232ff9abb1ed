package kernel

import (
	"context"
	"io"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/rootonly"
)

// runWire opens a wire, runs it, and stops and closes it when the test
// ends, whatever happened.
func runWire(t testing.TB, cfg Config) *Wire {
	t.Helper()
	rootonly.Need(t)
	w, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return within 5 s of its cancellation")
		}
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

// echoServer accepts connections in the server namespace and echoes what
// they send; it records each peer's address. It stops with the test.
type echoServer struct {
	ln    net.Listener
	mu    sync.Mutex
	peers []string
	wg    sync.WaitGroup
}

func startEcho(t testing.TB, w *Wire) *echoServer {
	t.Helper()
	ln, err := w.Listen("tcp4", net.JoinHostPort(w.ServerAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln}
	s.wg.Go(s.serve)
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *echoServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.peers = append(s.peers, c.RemoteAddr().String())
		s.mu.Unlock()
		s.wg.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			io.Copy(c, c)
		})
	}
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func (s *echoServer) peerList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.peers...)
}

// median of durations.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
