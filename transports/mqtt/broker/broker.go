// Package broker runs an embedded MQTT broker (mochi-mqtt) in-process: the
// zero-setup default target and a fast server for tests.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// WritesPending is each client's outbound queue length. mochi preallocates
// the queue (8 bytes a slot) for every client, 8192 slots (64 KiB) by
// default. When a client's queue is full, mochi drops the message: the
// backend, which receives the whole fleet's telemetry on one connection,
// is the client that fills it, in bursts such as aligned reports. 256
// dropped 95% of a 5,000-message burst in tests; 1024 (8 KiB a client)
// carried it.
const WritesPending = 1024

// Broker is a running embedded broker.
type Broker struct {
	srv   *mochi.Server
	tcp   *listeners.TCP
	ws    *wsListener // nil without a WebSocket listener
	hook  *allowAll
	close sync.Once
}

// Options configures StartWith. Only Addr is required.
type Options struct {
	// Addr is the MQTT (TCP) listener's host:port ("127.0.0.1:0" picks a
	// port).
	Addr string
	// WebSocketAddr, when set, adds an MQTT over WebSocket listener on
	// this host:port (subprotocol mqtt, any path; plain ws://, for TLS
	// put a proxy such as nginx in front).
	WebSocketAddr string
	// TLS, when set, makes the MQTT listener serve TLS with it (its
	// certificate, and ClientAuth and ClientCAs to ask for client
	// certificates).
	TLS *tls.Config
}

// Start runs an in-process mochi-mqtt broker on addr ("127.0.0.1:0" picks
// a port). It allows every client and every topic. It logs through log
// only when log is enabled at debug level, except for dropped messages,
// which it reports at warning level at most once a second; a nil log is
// quiet.
func Start(addr string, log *slog.Logger) (*Broker, error) {
	return StartWith(Options{Addr: addr}, log)
}

// StartTLS is Start with a TLS listener serving cfg (its certificate, and
// ClientAuth and ClientCAs to ask for client certificates); a nil cfg
// listens in plain TCP.
func StartTLS(addr string, cfg *tls.Config, log *slog.Logger) (*Broker, error) {
	return StartWith(Options{Addr: addr, TLS: cfg}, log)
}

// StartWith is Start with a choice of listeners.
func StartWith(o Options, log *slog.Logger) (*Broker, error) {
	addr, cfg := o.Addr, o.TLS
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = WritesPending
	srv := mochi.New(&mochi.Options{
		Capabilities: caps,
		Logger:       mochiLogger(log),
		// $SYS topics are of no use to a load test; publish them rarely.
		SysTopicResendInterval: 3600,
	})
	hook := &allowAll{log: log}
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("broker: allow-all hook: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr, TLSConfig: cfg})
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", addr, err)
	}
	b := &Broker{srv: srv, tcp: tcp, hook: hook}
	if err := b.addWebSocket(o.WebSocketAddr); err != nil {
		tcp.Close(func(string) {})
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		b.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	return b, nil
}

// addWebSocket adds the WebSocket listener when addr is set.
func (b *Broker) addWebSocket(addr string) error {
	if addr == "" {
		return nil
	}
	l, err := listenWebSocket(addr)
	if err != nil {
		return err
	}
	if err := b.srv.AddListener(l); err != nil {
		l.ln.Close()
		return fmt.Errorf("broker: add websocket listener: %w", err)
	}
	b.ws = l
	return nil
}

func mochiLogger(log *slog.Logger) *slog.Logger {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return slog.New(slog.DiscardHandler)
	}
	return log.With("component", "broker")
}

// Addr returns the host:port the broker actually bound.
func (b *Broker) Addr() string { return b.tcp.Address() }

// WebSocketURL returns the WebSocket listener's ws://host:port/mqtt, or
// "" when the broker has none.
func (b *Broker) WebSocketURL() string {
	if b.ws == nil {
		return ""
	}
	return "ws://" + b.ws.Address() + WebSocketPath
}

// Dropped returns how many messages the broker dropped because a
// subscriber's queue (WritesPending) was full.
func (b *Broker) Dropped() int64 { return b.hook.dropped.Load() }

// closeWait bounds how long Close waits for mochi to stop.
const closeWait = 10 * time.Second

// ErrCloseStuck is Close's error when mochi did not stop within 10 s.
// Close then returns, leaving that goroutine stuck, rather than hang its
// caller.
var ErrCloseStuck = errors.New("broker: close: mochi did not stop within 10s")

// Close disconnects every client and stops the broker, WebSocket clients
// first. It is idempotent.
//
// mochi 2.7.9's Close lists a listener's clients with
// Clients.GetByListener, which takes the clients' read lock twice and so
// deadlocks when a client connects or leaves in between
// (mochi-mqtt/server#488). Closing the listeners first, the TCP one with
// a closer that lists the clients under one lock, leaves mochi's Close no
// clients to list; the deadline covers what may remain.
func (b *Broker) Close() error {
	var err error
	b.close.Do(func() {
		if b.ws != nil {
			b.ws.drain()
		}
		b.tcp.Close(b.disconnectAll)
		done := make(chan error, 1)
		go func() { done <- b.srv.Close() }()
		select {
		case err = <-done:
		case <-time.After(closeWait):
			b.hook.log.Error("embedded broker did not stop", "after", closeWait)
			err = ErrCloseStuck
			return
		}
	})
	if err != nil && !errors.Is(err, ErrCloseStuck) {
		return fmt.Errorf("broker: close: %w", err)
	}
	return err
}

// disconnectAll disconnects the listener's clients, as mochi's Close
// would.
func (b *Broker) disconnectAll(listener string) {
	for _, cl := range b.srv.Clients.GetAll() {
		if cl.Net.Listener == listener && !cl.Closed() {
			_ = b.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// allowAll admits every client and topic, and counts dropped messages. It
// stands in for mochi's hooks/auth.AllowHook, whose package pulls in a
// YAML library for its ledger that m2msim has no other use for.
type allowAll struct {
	mochi.HookBase
	log      *slog.Logger
	dropped  atomic.Int64
	reported atomic.Int64 // UnixNano of the last drop warning
}

func (*allowAll) ID() string { return "allow-all" }

func (*allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck || b == mochi.OnPublishDropped
}

func (*allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (*allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// OnPublishDropped runs on the publisher's goroutine: keep it cheap.
func (h *allowAll) OnPublishDropped(cl *mochi.Client, _ packets.Packet) {
	n := h.dropped.Add(1)
	now := time.Now().UnixNano()
	last := h.reported.Load()
	if now-last < int64(time.Second) || !h.reported.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn("embedded broker dropped messages to a slow subscriber",
		"client", cl.ID, "dropped_total", n, "queue", WritesPending)
}
