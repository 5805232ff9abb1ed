package broker_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/pki"
)

// lost records a session's Lost call.
type lost struct{ ch chan error }

func (l lost) Acked(uint16)           {}
func (l lost) Message(string, []byte) {}
func (l lost) Lost(err error)         { l.ch <- err }

func TestRestartDropsEveryClientAndComesBackOnTheSameAddress(t *testing.T) {
	b, err := broker.StartWith(broker.Options{Addr: "127.0.0.1:0", WebSocketAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	addr, wsURL := b.Addr(), b.WebSocketURL()
	h := lost{ch: make(chan error, 1)}
	s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: addr, ClientID: "c", CleanSession: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Restart(ctx, broker.RestartOptions{Down: 500 * time.Millisecond}) }()
	select {
	case <-h.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("client not dropped by the restart within 5s")
	}
	// The broker is down: connects are refused until it is back.
	refusedSeen := false
	for deadline := time.Now().Add(400 * time.Millisecond); time.Now().Before(deadline) && !refusedSeen; {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			refusedSeen = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refusedSeen {
		t.Error("connects were accepted while the broker was down")
	}
	if err := <-done; err != nil {
		t.Fatalf("Restart() = %v", err)
	}
	if b.Addr() != addr || b.WebSocketURL() != wsURL {
		t.Errorf("after restart: %s %s, want the same addresses %s %s", b.Addr(), b.WebSocketURL(), addr, wsURL)
	}
	s2, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: addr, ClientID: "c", CleanSession: true}, nil)
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	s2.Close()
}

func TestCloseEndsARestartAndRestartAfterCloseFails(t *testing.T) {
	b, err := broker.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Restart(context.Background(), broker.RestartOptions{Down: time.Hour}) }()
	time.Sleep(100 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatalf("Close() during restart = %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, broker.ErrClosed) {
			t.Errorf("Restart() ended by Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Restart still waiting 5s after Close")
	}
	if err := b.Restart(context.Background(), broker.RestartOptions{}); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Restart() after Close = %v, want ErrClosed", err)
	}
	if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("broker accepts after Close")
	}
}

// TestRestartTicketKeys: tickets issued before a restart resume after it
// when the broker keeps its keys, and not when it takes new ones.
func TestRestartTicketKeys(t *testing.T) {
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		newKeys bool
		resumed bool
	}{{"kept keys", false, true}, {"new keys", true, false}} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := broker.StartTLS("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			client := &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
			var got []bool
			connect := func() {
				t.Helper()
				d := dial.TLS(nil, dial.TLSOptions{Config: client, Handshook: func(h dial.TLSHandshake) { got = append(got, h.Resumed) }})
				s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: b.Addr(), Dial: d, ClientID: "c", CleanSession: true}, nil)
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				s.Close()
			}
			connect()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := b.Restart(ctx, broker.RestartOptions{Down: 50 * time.Millisecond, NewTicketKeys: tt.newKeys}); err != nil {
				t.Fatal(err)
			}
			connect()
			if len(got) != 2 || got[0] || got[1] != tt.resumed {
				t.Errorf("handshakes resumed = %v, want [false %v]", got, tt.resumed)
			}
		})
	}
}
