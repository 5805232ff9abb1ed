package broker_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
)

// lostErrs collects the errors sessions end with.
type lostErrs struct {
	mu   sync.Mutex
	errs []error
}

func (l *lostErrs) Acked(uint16)           {}
func (l *lostErrs) Message(string, []byte) {}
func (l *lostErrs) Lost(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *lostErrs) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// TestCloseDisconnectsEveryClient closes a broker with MQTT 5 clients
// connected: Close, which lists the clients itself rather than through
// mochi (see Broker.Close), must disconnect each with 0x8b, server
// shutting down.
func TestCloseDisconnectsEveryClient(t *testing.T) {
	const n = 20
	b, err := broker.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &lostErrs{}
	for i := range n {
		s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: b.Addr(), ClientID: "c-" + strconv.Itoa(i),
			ProtocolVersion: mqtt.V5, Timeout: 5 * time.Second}, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(h.all()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions ended after Close", len(h.all()), n)
		}
	}
	for _, err := range h.all() {
		var rc mqtt.ReasonCodeError
		if !errors.As(err, &rc) || rc.Code != 0x8b {
			t.Errorf("session ended with %v, want DISCONNECT 0x8b server shutting down", err)
		}
	}
}
