// Package broker runs an embedded MQTT broker (mochi-mqtt) in-process: the
// zero-setup default target and a fast server for tests.
package broker

import (
	"context"
	"crypto/rand"
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

// Broker is a running embedded broker. Restart stops it and starts a new
// one on the same addresses, as a broker process that is restarted.
type Broker struct {
	o    Options // the listeners' bound addresses once started
	log  *slog.Logger
	hook *allowAll // shared by every incarnation: its counts span restarts

	mu     sync.Mutex // guards cur and closed
	cur    *instance  // nil while a restart has the broker down
	closed bool
	gone   chan struct{} // closed by Close: a restart waiting to start gives up
}

// instance is one incarnation of the broker: a mochi server and its
// listeners.
type instance struct {
	srv *mochi.Server
	tcp *listeners.TCP
	ws  *wsListener // nil without a WebSocket listener
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
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Broker{o: o, log: log, hook: &allowAll{log: log}, gone: make(chan struct{})}
	in, err := b.start()
	if err != nil {
		return nil, err
	}
	b.cur = in
	b.o.Addr = in.tcp.Address()
	if in.ws != nil {
		b.o.WebSocketAddr = in.ws.Address()
	}
	return b, nil
}

// start runs a new incarnation on b.o's addresses.
func (b *Broker) start() (*instance, error) {
	addr, cfg := b.o.Addr, b.o.TLS
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = WritesPending
	srv := mochi.New(&mochi.Options{
		Capabilities: caps,
		Logger:       mochiLogger(b.log),
		// $SYS topics are of no use to a load test; publish them rarely.
		SysTopicResendInterval: 3600,
	})
	if err := srv.AddHook(b.hook, nil); err != nil {
		return nil, fmt.Errorf("broker: allow-all hook: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr, TLSConfig: cfg})
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", addr, err)
	}
	in := &instance{srv: srv, tcp: tcp}
	if err := in.addWebSocket(b.o.WebSocketAddr); err != nil {
		tcp.Close(func(string) {})
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		in.close(b.log)
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	return in, nil
}

// addWebSocket adds the WebSocket listener when addr is set.
func (in *instance) addWebSocket(addr string) error {
	if addr == "" {
		return nil
	}
	l, err := listenWebSocket(addr)
	if err != nil {
		return err
	}
	if err := in.srv.AddListener(l); err != nil {
		l.ln.Close()
		return fmt.Errorf("broker: add websocket listener: %w", err)
	}
	in.ws = l
	return nil
}

func mochiLogger(log *slog.Logger) *slog.Logger {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return slog.New(slog.DiscardHandler)
	}
	return log.With("component", "broker")
}

// Addr returns the host:port the broker actually bound.
func (b *Broker) Addr() string { return b.o.Addr }

// WebSocketURL returns the WebSocket listener's ws://host:port/mqtt, or
// "" when the broker has none.
func (b *Broker) WebSocketURL() string {
	if b.o.WebSocketAddr == "" {
		return ""
	}
	return "ws://" + b.o.WebSocketAddr + WebSocketPath
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

// ErrClosed is Restart's error for a broker that was closed.
var ErrClosed = errors.New("broker: closed")

// Close disconnects every client and stops the broker, WebSocket clients
// first. It is idempotent, and stops a restart that is waiting to start
// the broker again.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.gone)
	in := b.cur
	b.cur = nil
	if in == nil {
		return nil
	}
	return in.close(b.log)
}

// RestartOptions says how Restart brings the broker back.
type RestartOptions struct {
	// Down is how long the broker stays down: connects in that time are
	// refused.
	Down time.Duration
	// NewTicketKeys gives the new incarnation fresh TLS session ticket
	// keys, as a broker process that does not keep them: tickets issued
	// before the restart no longer resume. By default it keeps them, as a
	// broker (or the TLS proxy in front of it) configured with fixed keys.
	NewTicketKeys bool
}

// Restart stops the broker as a crash or a restart of its process would:
// every connection drops, sessions and retained messages are gone, the
// listeners close. After o.Down it starts a new broker on the same
// addresses. It returns when the broker is up again, or with ctx's error
// (the broker then stays down), or with ErrClosed as soon as Close is
// called.
func (b *Broker) Restart(ctx context.Context, o RestartOptions) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	in := b.cur
	b.cur = nil
	b.mu.Unlock()
	if in != nil {
		if err := in.close(b.log); err != nil {
			return err
		}
	}
	t := time.NewTimer(o.Down)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.gone:
		return ErrClosed
	case <-t.C:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if o.NewTicketKeys && b.o.TLS != nil {
		cfg := b.o.TLS.Clone()
		var key [32]byte
		if _, err := rand.Read(key[:]); err != nil {
			return fmt.Errorf("broker: restart: ticket key: %w", err)
		}
		cfg.SetSessionTicketKeys([][32]byte{key})
		b.o.TLS = cfg
	}
	in, err := b.start()
	if err != nil {
		return fmt.Errorf("broker: restart: %w", err)
	}
	b.cur = in
	return nil
}

// close disconnects every client and stops the incarnation, WebSocket
// clients first.
//
// mochi 2.7.9's Close lists a listener's clients with
// Clients.GetByListener, which takes the clients' read lock twice and so
// deadlocks when a client connects or leaves in between
// (mochi-mqtt/server#488). Closing the listeners first, the TCP one with
// a closer that lists the clients under one lock, leaves mochi's Close no
// clients to list; the deadline covers what may remain.
func (in *instance) close(log *slog.Logger) error {
	if in.ws != nil {
		in.ws.drain()
	}
	in.tcp.Close(in.disconnectAll)
	done := make(chan error, 1)
	go func() { done <- in.srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("broker: close: %w", err)
		}
		return nil
	case <-time.After(closeWait):
		log.Error("embedded broker did not stop", "after", closeWait)
		return ErrCloseStuck
	}
}

// disconnectAll disconnects the listener's clients, as mochi's Close
// would.
func (in *instance) disconnectAll(listener string) {
	for _, cl := range in.srv.Clients.GetAll() {
		if cl.Net.Listener == listener && !cl.Closed() {
			_ = in.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
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
