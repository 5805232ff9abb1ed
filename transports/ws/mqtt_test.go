package ws_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/nginxtest"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/netem"
	"github.com/m2msim/m2msim/transports/pki"
	"github.com/m2msim/m2msim/transports/ws"
)

// wsBroker starts the embedded broker with a WebSocket listener.
func wsBroker(t testing.TB) *broker.Broker {
	t.Helper()
	b, err := broker.StartWith(broker.Options{Addr: "127.0.0.1:0", WebSocketAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatalf("StartWith: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// tally is an mqtt.Handler that counts.
type tally struct {
	mu    sync.Mutex
	acked map[uint16]bool
	msgs  []string
	lost  []error
}

func newTally() *tally { return &tally{acked: map[uint16]bool{}} }

func (h *tally) Acked(id uint16) { h.mu.Lock(); h.acked[id] = true; h.mu.Unlock() }
func (h *tally) Message(topic string, p []byte) {
	h.mu.Lock()
	h.msgs = append(h.msgs, topic+"="+string(p))
	h.mu.Unlock()
}
func (h *tally) Lost(err error) { h.mu.Lock(); h.lost = append(h.lost, err); h.mu.Unlock() }

func (h *tally) counts() (acked, msgs, lost int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acked), len(h.msgs), len(h.lost)
}

// exchange publishes n QoS 1 messages from a device over url to a
// subscriber on the broker's TCP listener, and one command back.
func exchange(t *testing.T, b *broker.Broker, url string, d ws.Options, n int) {
	t.Helper()
	ctx := t.Context()
	sub := newTally()
	s, err := mqtt.Connect(ctx, mqtt.Options{Addr: b.Addr(), ClientID: "sub", CleanSession: true,
		Subscribe: []mqtt.Subscription{{Topic: "up/#", QoS: 1}}}, sub)
	if err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	defer s.Close()
	dev := newTally()
	shaper := netem.NewShaper(1)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- shaper.Run(sctx) }()
	defer func() { stop(); <-done }()
	link := netem.Link{Up: netem.Profile{Delay: 10 * time.Millisecond}, Down: netem.Profile{Delay: 10 * time.Millisecond}}
	var nd net.Dialer
	shaped := shaper.Dialer(nd.DialContext, link, 1, 0)
	c, err := mqtt.Connect(ctx, mqtt.Options{Addr: url, Dial: ws.Over(shaped, d), ClientID: "dev", CleanSession: true,
		KeepAlive: time.Minute, Subscribe: []mqtt.Subscription{{Topic: "down/dev", QoS: 1}}}, dev)
	if err != nil {
		t.Fatalf("device over %s: %v", url, err)
	}
	for i := 1; i <= n; i++ {
		if err := c.Publish(uint16(i), "up/dev", []byte(strconv.Itoa(i)), 1, false); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	if err := s.Publish(1, "down/dev", []byte("reboot"), 1, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "every publish acked and delivered, the command received", func() bool {
		a, _, _ := dev.counts()
		_, m, _ := sub.counts()
		_, cm, _ := dev.counts()
		return a == n && m == n && cm == 1
	})
	if err := c.Ping(); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if st := shaper.Stats(); st.Up.Sent == 0 {
		t.Errorf("the shaper saw no uplink packets (%+v): the session bypassed the shaped dialer", st)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, _, lost := dev.counts(); lost != 0 {
		t.Errorf("device session lost %d times, want 0: %v", lost, dev.lost)
	}
}

// An MQTT session runs unchanged over ws:// to the embedded broker,
// through a shaped link.
func TestMQTTOverWebSocket(t *testing.T) {
	b := wsBroker(t)
	if b.WebSocketURL() == "" {
		t.Fatal("WebSocketURL() is empty")
	}
	exchange(t, b, b.WebSocketURL(), ws.Options{}, 200)
}

// nginx terminates TLS and proxies plain WebSocket to the embedded
// broker: devices dial wss://nginx/mqtt.
func TestMQTTOverWSSThroughNginx(t *testing.T) {
	b := wsBroker(t)
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	upstream := b.WebSocketURL()[len("ws://"):]
	upstream = upstream[:len(upstream)-len(broker.WebSocketPath)]
	n := nginxtest.Start(t, nginxtest.Options{Upstream: upstream, CertFile: certFile, KeyFile: keyFile})
	url := "wss://" + n.Addr() + "/mqtt"
	exchange(t, b, url, ws.Options{TLS: &tls.Config{RootCAs: ca.Pool()}}, 100)

	// Without the CA the device refuses the proxy's certificate.
	_, err = ws.Dial(t.Context(), nil, url, ws.Options{TLS: &tls.Config{}})
	var ue *tls.CertificateVerificationError
	if !errors.As(err, &ue) {
		t.Errorf("Dial without the CA = %v, want a certificate verification error", err)
	}
}

// A broker that goes away ends the session with Lost, at once and
// whatever was in flight.
func TestMQTTOverWebSocketBrokerGone(t *testing.T) {
	b := wsBroker(t)
	dev := newTally()
	c, err := mqtt.Connect(t.Context(), mqtt.Options{Addr: b.WebSocketURL(), Dial: ws.Over(nil, ws.Options{}),
		ClientID: "gone", CleanSession: true}, dev)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.Close()
	eventually(t, 5*time.Second, "Lost after the broker closed", func() bool { _, _, l := dev.counts(); return l == 1 })
	if err := dev.lost[0]; !errors.Is(err, io.EOF) && !errors.Is(err, mqtt.ErrServerDisconnect) {
		t.Logf("lost with %v", err) // the reason depends on who closed first
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if _, err := mqtt.Connect(ctx, mqtt.Options{Addr: b.WebSocketURL(), Dial: ws.Over(nil, ws.Options{})}, nil); err == nil {
		t.Error("Connect to a closed broker succeeded")
	}
}
