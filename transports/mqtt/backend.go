package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// window is how many QoS 1 and 2 messages each Backend connection keeps
// unacknowledged. Mosquitto 2.0 takes at most max_inflight_messages
// (default 20) QoS 2 messages from a client awaiting PUBREL and silently
// drops the next.
const window = 20

// Reconnect backoff of a Backend: short, because a load test wants its
// backend back before the devices notice. The cap is low on purpose: a
// backend is a few connections, so asking a broker that is down four
// times a second costs it nothing, while each second the backend stays
// away after the broker is back is a second of devices' messages with no
// subscriber, which the run counts as lost.
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 250 * time.Millisecond
)

// defaultShareGroup is BackendOptions.ShareGroup's default.
const defaultShareGroup = "m2msim"

// errLinkLost tells a Subscribe waiting for a SUBACK that its connection
// died; it waits for the reconnect, which resubscribes.
var errLinkLost = errors.New("mqtt: backend connection lost")

// BackendOptions configures a Backend.
type BackendOptions struct {
	// Options are every connection's settings. Subscribe must be empty:
	// subscribe with Backend.Subscribe, which also says where messages go.
	// With several connections, connection i (from 0) is ClientID-i.
	Options
	// Connections is how many connections share the backend's work
	// (default 1). A broker holds each QoS 1 subscriber to a few
	// unacknowledged messages (Mosquitto: max_inflight_messages, 20) and
	// drops what queues up beyond that, so one connection cannot receive
	// a large fleet's telemetry. With more than one, every filter is
	// subscribed as a shared subscription, $share/ShareGroup/filter, and
	// the broker hands each message to one of them.
	Connections int
	// ShareGroup names the shared subscription group (default "m2msim").
	ShareGroup string
}

func (o BackendOptions) withDefaults() BackendOptions {
	o.Options = o.Options.withDefaults()
	if o.Connections <= 0 {
		o.Connections = 1
	}
	if o.ShareGroup == "" {
		o.ShareGroup = defaultShareGroup
	}
	return o
}

func (o *BackendOptions) check() error {
	switch {
	case len(o.Subscribe) > 0:
		return fmt.Errorf("%w: DialBackend takes subscriptions through Backend.Subscribe", ErrInvalid)
	case strings.ContainsAny(o.ShareGroup, "/+#"):
		return fmt.Errorf("%w: share group %q holds one of / + #", ErrInvalid, o.ShareGroup)
	}
	return nil
}

// Backend stands in for the server-side application: it subscribes to
// what devices publish and publishes commands and replies to them, over
// one or more connections (BackendOptions.Connections). Each connection
// reconnects by itself (with a short capped backoff) and resubscribes. It
// is safe for concurrent use.
//
// It costs, besides each connection's session goroutines, one goroutine
// that pings when Options.KeepAlive is set, and one per connection while
// it reconnects.
type Backend struct {
	opts    Options // each connection's, with defaults; ClientID as given
	prefix  string  // "$share/<group>/" with several connections, else ""
	log     *slog.Logger
	conns   []*bconn
	ids     atomic.Uint32 // last packet id handed out (low 16 bits)
	rr      atomic.Uint32 // where Publish starts looking for a connection
	waiters atomic.Int32  // Publish calls waiting for room or a connection
	quit    chan struct{} // closed by Close

	// routes is read lock-free by the reader goroutines; it is replaced,
	// never modified, under mu.
	routes atomic.Pointer[router]

	// mu guards the fields below, each bconn's cur (written only under
	// it), ready and stop, and each link's lost and pending. It is never
	// held across I/O or a wait.
	mu      sync.Mutex
	closed  bool
	seq     uint64        // seq of the newest subGroup
	groups  []*subGroup   // the Subscribe calls, oldest first
	changed chan struct{} // closed (and replaced) when a connection comes up or, while Publish waits, a window slot frees
	wg      sync.WaitGroup
}

// subGroup is one Subscribe call: its filters and where their messages go.
type subGroup struct {
	seq     uint64
	subs    []Subscription
	deliver func(topic string, payload []byte, arrived time.Time)
}

// bconn is one of a Backend's connections, across its reconnects.
type bconn struct {
	b         *Backend
	clientID  string
	cur       atomic.Pointer[link] // the live connection; nil while reconnecting or closed
	ready     chan struct{}        // closed when cur is set
	stop      context.CancelFunc   // cancels a running reconnect
	delivered atomic.Uint64        // messages received, over all its links
}

// link is one session of a bconn, and its Handler.
type link struct {
	c        *bconn
	s        *Session
	upTo     uint64       // groups with seq <= upTo were subscribed in CONNECT's handshake
	inflight atomic.Int32 // QoS 1 and 2 messages sent and not acknowledged, at most window
	broken   atomic.Bool  // a write failed: Lost follows, use another
	gone     chan struct{}
	lost     bool                   // gone is closed
	pending  map[uint16]chan []byte // SUBACK return codes awaited, by packet id
}

// DialBackend connects a Backend's connections. A nil log discards.
func DialBackend(ctx context.Context, o BackendOptions, log *slog.Logger) (*Backend, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Backend{opts: o.Options, log: log, quit: make(chan struct{}), changed: make(chan struct{})}
	if o.Connections > 1 {
		b.prefix = "$share/" + o.ShareGroup + "/"
	}
	b.routes.Store(newRouter(nil))
	for i := range o.Connections {
		c := &bconn{b: b, clientID: o.ClientID, ready: make(chan struct{})}
		if o.Connections > 1 && o.ClientID != "" {
			c.clientID += "-" + strconv.Itoa(i)
		}
		b.conns = append(b.conns, c)
	}
	for _, c := range b.conns {
		l, err := b.dial(ctx, c)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.mu.Lock()
		if !b.install(c, l) {
			b.startReconnect(c)
		}
		b.mu.Unlock()
	}
	if b.opts.KeepAlive > 0 {
		b.wg.Add(1)
		go b.keepalive()
	}
	return b, nil
}

// Connections returns how many connections the Backend has.
func (b *Backend) Connections() int { return len(b.conns) }

// Delivered returns how many messages each connection has received since
// DialBackend, to show how the broker spreads them.
func (b *Backend) Delivered() []uint64 {
	out := make([]uint64, len(b.conns))
	for i, c := range b.conns {
		out[i] = c.delivered.Load()
	}
	return out
}

// dial connects c and subscribes every group known now.
func (b *Backend) dial(ctx context.Context, c *bconn) (*link, error) {
	b.mu.Lock()
	groups, upTo := b.groups, b.seq
	b.mu.Unlock()
	o := b.opts
	o.ClientID, o.Subscribe = c.clientID, nil
	for _, g := range groups {
		o.Subscribe = append(o.Subscribe, g.subs...)
	}
	l := &link{c: c, upTo: upTo, gone: make(chan struct{})}
	s, err := connect(ctx, o, l, &backendSide{onSuback: l.onSuback, onMessage: l.onMessage, prefix: b.prefix})
	if err != nil {
		return nil, err
	}
	l.s = s
	return l, nil
}

// install makes l c's live connection, unless it was lost already. b.mu
// must be held.
func (b *Backend) install(c *bconn, l *link) bool {
	if l.lost {
		return false
	}
	c.cur.Store(l)
	close(c.ready)
	b.wakeLocked()
	return true
}

// wakeLocked wakes every Publish waiting for a connection or room. b.mu
// must be held.
func (b *Backend) wakeLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// startReconnect runs c's reconnect goroutine. b.mu must be held.
func (b *Backend) startReconnect(c *bconn) {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	b.wg.Add(1)
	go b.reconnect(ctx, c)
}

// markLost records the end of l and fails its pending SUBACKs. b.mu must
// be held.
func (l *link) markLost() {
	if l.lost {
		return
	}
	l.lost = true
	close(l.gone)
	for _, ch := range l.pending {
		close(ch)
	}
	l.pending = nil
}

func (b *Backend) lost(l *link, err error) {
	b.mu.Lock()
	l.markLost()
	c := l.c
	if c.cur.Load() != l || b.closed {
		b.mu.Unlock()
		return
	}
	c.cur.Store(nil)
	c.ready = make(chan struct{})
	b.startReconnect(c)
	b.mu.Unlock()
	b.log.Warn("mqtt backend: connection lost, reconnecting", "addr", b.opts.Addr, "client", c.clientID, "err", err)
}

// reconnect dials c until it succeeds or the Backend closes.
func (b *Backend) reconnect(ctx context.Context, c *bconn) {
	defer b.wg.Done()
	delay, start := backoffMin, time.Now()
	for attempt := 1; ; attempt++ {
		l, err := b.dial(ctx, c)
		if err == nil {
			b.mu.Lock()
			closed := b.closed
			ok := !closed && b.install(c, l)
			b.mu.Unlock()
			if ok {
				b.log.Info("mqtt backend: reconnected", "addr", b.opts.Addr, "client", c.clientID, "attempts", attempt,
					"after", time.Since(start).Round(time.Millisecond))
				return
			}
			l.s.Close()
			if closed {
				return
			}
			err = errLinkLost
		}
		if ctx.Err() != nil {
			return
		}
		level := slog.LevelDebug // the first failure says it; the rest would flood a restart
		if attempt == 1 {
			level = slog.LevelWarn
		}
		b.log.Log(ctx, level, "mqtt backend: reconnect failed, retrying", "addr", b.opts.Addr, "client", c.clientID,
			"attempt", attempt, "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, backoffMax)
	}
}

// keepalive pings at half the keepalive interval, since a backend may only
// receive and the broker counts only what the client sends.
func (b *Backend) keepalive() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.KeepAlive / 2)
	defer t.Stop()
	for {
		select {
		case <-b.quit:
			return
		case <-t.C:
			for _, c := range b.conns {
				if l := c.cur.Load(); l != nil {
					l.s.Ping() // never blocks; a failure ends the session and Lost reconnects
				}
			}
		}
	}
}

func (b *Backend) nextID() uint16 {
	for {
		if id := uint16(b.ids.Add(1)); id != 0 {
			return id
		}
	}
}

// Acked frees a window slot.
func (l *link) Acked(uint16) {
	for {
		n := l.inflight.Load()
		if n <= 0 {
			return // an ack for nothing we sent
		}
		if l.inflight.CompareAndSwap(n, n-1) {
			break
		}
	}
	if b := l.c.b; b.waiters.Load() > 0 {
		b.mu.Lock()
		b.wakeLocked()
		b.mu.Unlock()
	}
}

// Message is not called: the session delivers through onMessage.
func (l *link) Message(topic string, payload []byte) {
	l.onMessage([]byte(topic), payload, time.Now())
}

func (l *link) Lost(err error) { l.c.b.lost(l, err) }

func (l *link) onMessage(topic, payload []byte, arrived time.Time) {
	l.c.delivered.Add(1)
	l.c.b.routes.Load().route(topic, payload, arrived)
}

// acquire takes a window slot, if there is room.
func (l *link) acquire() bool {
	for {
		n := l.inflight.Load()
		if n >= window {
			return false
		}
		if l.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Publish sends a message over one of the live connections, taking them
// in turn. It does not wait for PUBACK, but each connection keeps at most
// 20 QoS 1 and 2 messages unacknowledged (what Mosquitto accepts by
// default); Publish skips connections that are reconnecting or full, and
// waits (within ctx) when all are. Packet ids are the Backend's own. A
// full send buffer fails it with a SendBufferFullError.
func (b *Backend) Publish(ctx context.Context, topic string, payload []byte, qos byte) error {
	if err := checkPublish(1, topic, payload, qos); err != nil {
		return err
	}
	for {
		l, err := b.acquire(ctx, qos)
		if err != nil {
			return err
		}
		var id uint16
		if qos > 0 {
			id = b.nextID()
		}
		err = l.s.Publish(id, topic, payload, qos, false)
		if err == nil {
			return nil
		}
		if qos > 0 {
			l.Acked(id)
		}
		if errors.As(err, new(SendBufferFullError)) {
			return err
		}
		l.broken.Store(true) // the session is ending; Lost replaces it
	}
}

// acquire returns a live connection with room for a message at qos,
// waiting within ctx when there is none.
func (b *Backend) acquire(ctx context.Context, qos byte) (*link, error) {
	for {
		if l := b.pick(qos); l != nil {
			return l, nil
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, ErrClosed
		}
		changed := b.changed
		b.waiters.Add(1)
		b.mu.Unlock()
		// Room may have freed before this Publish counted as waiting, so
		// the ack that freed it did not wake anyone: look again.
		l := b.pick(qos)
		if l == nil {
			select {
			case <-changed:
			case <-ctx.Done():
				b.waiters.Add(-1)
				return nil, b.waitErr(ctx)
			}
		}
		b.waiters.Add(-1)
		if l != nil {
			return l, nil
		}
	}
}

// pick takes the next live connection, in turn, that has room.
func (b *Backend) pick(qos byte) *link {
	n := uint32(len(b.conns))
	start := b.rr.Add(1)
	for k := range n {
		l := b.conns[(start+k)%n].cur.Load()
		if l == nil || l.broken.Load() {
			continue
		}
		if qos == 0 || l.acquire() {
			return l
		}
	}
	return nil
}

func (b *Backend) waitErr(ctx context.Context) error {
	for _, c := range b.conns {
		if c.cur.Load() != nil {
			return fmt.Errorf("mqtt backend: waiting for acks: %w", ctx.Err())
		}
	}
	return fmt.Errorf("mqtt backend: waiting for a connection: %w", ctx.Err())
}

// Close disconnects every connection and stops reconnecting. It is
// idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var live []*link
	for _, c := range b.conns {
		if l := c.cur.Load(); l != nil {
			live = append(live, l)
			l.markLost() // wake Subscribe calls waiting on it
			c.cur.Store(nil)
		} else {
			close(c.ready) // wake Subscribe calls waiting for it
		}
		if c.stop != nil {
			c.stop()
		}
	}
	b.wakeLocked()
	close(b.quit)
	b.mu.Unlock()
	var errs []error
	for _, l := range live {
		errs = append(errs, l.s.Close())
	}
	b.wg.Wait()
	return errors.Join(errs...)
}
