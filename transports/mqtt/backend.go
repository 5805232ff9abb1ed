package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// window is how many QoS 1 and 2 messages a Backend keeps unacknowledged.
// Mosquitto 2.0 takes at most max_inflight_messages (default 20) QoS 2
// messages from a client awaiting PUBREL and silently drops the next.
const window = 20

// Reconnect backoff of a Backend: short, because a load test wants its
// backend back before the devices notice.
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
)

// errLinkLost tells a Subscribe waiting for a SUBACK that its connection
// died; it waits for the reconnect, which resubscribes.
var errLinkLost = errors.New("mqtt: backend connection lost")

// Backend is one MQTT connection standing in for the server-side
// application: it subscribes to what devices publish and publishes
// commands and replies to them. It reconnects by itself (with a short
// capped backoff) and resubscribes. It is safe for concurrent use.
//
// It costs two goroutines besides its session's reader: one that pings
// when Options.KeepAlive is set, and one while reconnecting.
type Backend struct {
	opts Options
	log  *slog.Logger
	ids  atomic.Uint32 // last packet id handed out (low 16 bits)
	quit chan struct{} // closed by Close

	// groups is read lock-free by the reader goroutine; it is replaced,
	// never modified, under mu.
	groups atomic.Pointer[[]*subGroup]

	mu      sync.Mutex // guards the fields below
	cur     *link      // the live connection; nil while reconnecting or closed
	ready   chan struct{}
	closed  bool
	seq     uint64                 // seq of the newest subGroup
	pending map[uint16]chan []byte // SUBACK return codes awaited, by packet id
	stop    context.CancelFunc     // cancels a running reconnect
	wg      sync.WaitGroup         // the keepalive and reconnect goroutines
}

// subGroup is one Subscribe call: its filters and where their messages go.
type subGroup struct {
	seq     uint64
	subs    []Subscription
	deliver func(topic string, payload []byte)
}

// link is one connection of a Backend, and its session's Handler.
type link struct {
	b      *Backend
	s      *Session
	upTo   uint64        // groups with seq <= upTo were subscribed in CONNECT's handshake
	window chan struct{} // a slot per unacknowledged QoS 1 or 2 message
	gone   chan struct{} // closed when the link is lost or closed
	lost   bool          // guarded by b.mu
}

func newLink(b *Backend, upTo uint64) *link {
	return &link{b: b, upTo: upTo, window: make(chan struct{}, window), gone: make(chan struct{})}
}

// markLost records the end of l. b.mu must be held.
func (l *link) markLost() {
	if !l.lost {
		l.lost = true
		close(l.gone)
	}
}

func (l *link) Acked(uint16) {
	select {
	case <-l.window:
	default: // an ack for nothing we sent: ignore
	}
}

func (l *link) Message(topic string, payload []byte) { l.b.route(topic, payload) }

func (l *link) Lost(err error) { l.b.lost(l, err) }

// DialBackend connects a Backend. o.Subscribe must be empty: subscribe
// with Backend.Subscribe, which also says where messages go. A nil log
// discards.
func DialBackend(ctx context.Context, o Options, log *slog.Logger) (*Backend, error) {
	if len(o.Subscribe) > 0 {
		return nil, fmt.Errorf("%w: DialBackend takes subscriptions through Backend.Subscribe", ErrInvalid)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Backend{opts: o.withDefaults(), log: log, quit: make(chan struct{}),
		ready: make(chan struct{}), pending: map[uint16]chan []byte{}}
	b.groups.Store(&[]*subGroup{})
	l, err := b.dial(ctx)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if !b.install(l) {
		b.startReconnect()
	}
	if b.opts.KeepAlive > 0 {
		b.wg.Add(1)
		go b.keepalive()
	}
	b.mu.Unlock()
	return b, nil
}

// dial connects and subscribes every group known now.
func (b *Backend) dial(ctx context.Context) (*link, error) {
	b.mu.Lock()
	groups, upTo := *b.groups.Load(), b.seq
	b.mu.Unlock()
	o := b.opts
	o.Subscribe = nil
	for _, g := range groups {
		o.Subscribe = append(o.Subscribe, g.subs...)
	}
	l := newLink(b, upTo)
	bk := &backendSide{onSuback: b.onSuback, onMessage: func(topic, payload []byte, _ time.Time) {
		b.route(string(topic), payload)
	}}
	s, err := connect(ctx, o, l, bk)
	if err != nil {
		return nil, err
	}
	l.s = s
	return l, nil
}

// install makes l the live connection, unless it was lost already.
// b.mu must be held.
func (b *Backend) install(l *link) bool {
	if l.lost {
		return false
	}
	b.cur = l
	close(b.ready)
	return true
}

// startReconnect runs one reconnect goroutine. b.mu must be held.
func (b *Backend) startReconnect() {
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	b.wg.Add(1)
	go b.reconnect(ctx)
}

func (b *Backend) lost(l *link, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l.markLost()
	if b.cur != l || b.closed {
		return
	}
	b.cur = nil
	b.ready = make(chan struct{})
	b.failPending()
	b.log.Warn("mqtt backend: connection lost, reconnecting", "addr", b.opts.Addr, "err", err)
	b.startReconnect()
}

// reconnect dials until it succeeds or the Backend closes.
func (b *Backend) reconnect(ctx context.Context) {
	defer b.wg.Done()
	delay := backoffMin
	for attempt := 1; ; attempt++ {
		l, err := b.dial(ctx)
		if err == nil {
			b.mu.Lock()
			closed := b.closed
			ok := !closed && b.install(l)
			b.mu.Unlock()
			if ok {
				b.log.Info("mqtt backend: reconnected", "addr", b.opts.Addr, "attempts", attempt)
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
		b.log.Warn("mqtt backend: reconnect failed", "addr", b.opts.Addr, "attempt", attempt, "err", err, "retry_in", delay)
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
			b.mu.Lock()
			l := b.cur
			b.mu.Unlock()
			if l != nil {
				l.s.Ping() // a failure ends the session; Lost reconnects
			}
		}
	}
}

// live returns the current connection, waiting for a reconnect if needed.
func (b *Backend) live(ctx context.Context) (*link, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, ErrClosed
		}
		if l := b.cur; l != nil {
			b.mu.Unlock()
			return l, nil
		}
		ready := b.ready
		b.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("mqtt backend: waiting for the connection: %w", ctx.Err())
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

// route hands an inbound message to every Subscribe call with a matching
// filter, once each.
func (b *Backend) route(topic string, payload []byte) {
	for _, g := range *b.groups.Load() {
		for _, s := range g.subs {
			if match(s.Topic, topic) {
				g.deliver(topic, payload)
				break
			}
		}
	}
}

// Subscribe adds subscriptions and waits for the broker's SUBACK. deliver
// is called for every inbound message matching one of subs, from one
// goroutine, with a payload valid only during the call. The
// subscriptions are renewed after every reconnect.
func (b *Backend) Subscribe(ctx context.Context, subs []Subscription, deliver func(topic string, payload []byte)) error {
	if len(subs) == 0 || deliver == nil {
		return fmt.Errorf("%w: Subscribe needs subscriptions and a deliver func", ErrInvalid)
	}
	if err := checkSubscriptions(subs); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.seq++
	g := &subGroup{seq: b.seq, subs: slices.Clone(subs), deliver: deliver}
	b.groups.Store(ptr(append(slices.Clone(*b.groups.Load()), g)))
	b.mu.Unlock()
	err := b.awaitSubscribed(ctx, g)
	if err != nil {
		b.mu.Lock()
		b.groups.Store(ptr(slices.DeleteFunc(slices.Clone(*b.groups.Load()), func(x *subGroup) bool { return x == g })))
		b.mu.Unlock()
	}
	return err
}

func ptr[T any](v T) *T { return &v }

func (b *Backend) awaitSubscribed(ctx context.Context, g *subGroup) error {
	for {
		l, err := b.live(ctx)
		if err != nil {
			return err
		}
		if l.upTo >= g.seq {
			return nil // the reconnect's handshake subscribed it
		}
		if err := b.subscribeOn(ctx, l, g.subs); !errors.Is(err, errLinkLost) {
			return err
		}
	}
}

func (b *Backend) subscribeOn(ctx context.Context, l *link, subs []Subscription) error {
	id := b.nextID()
	ch := make(chan []byte, 1)
	b.mu.Lock()
	if b.cur != l {
		b.mu.Unlock()
		return errLinkLost
	}
	b.pending[id] = ch
	b.mu.Unlock()
	if err := l.s.subscribe(id, subs); err != nil {
		b.forget(id)
		return errLinkLost // the session is ending; Lost will reconnect
	}
	select {
	case codes, ok := <-ch:
		if !ok {
			return errLinkLost
		}
		return checkSuback(packet{typ: typeSuback, id: id, codes: codes}, id, subs)
	case <-ctx.Done():
		b.forget(id)
		return fmt.Errorf("mqtt backend: waiting for SUBACK: %w", ctx.Err())
	}
}

func (b *Backend) forget(id uint16) {
	b.mu.Lock()
	delete(b.pending, id)
	b.mu.Unlock()
}

// onSuback runs on the reader goroutine; codes alias its buffer.
func (b *Backend) onSuback(id uint16, codes []byte) {
	b.mu.Lock()
	ch := b.pending[id]
	delete(b.pending, id)
	b.mu.Unlock()
	if ch != nil {
		ch <- slices.Clone(codes)
	}
}

// failPending wakes every Subscribe waiting for a SUBACK. b.mu must be held.
func (b *Backend) failPending() {
	for id, ch := range b.pending {
		close(ch)
		delete(b.pending, id)
	}
}

// Publish sends a message, waiting (within ctx) for a connection if the
// Backend is reconnecting. It does not wait for PUBACK, but keeps at most
// 20 QoS 1 and 2 messages unacknowledged (what Mosquitto accepts by
// default), waiting for room beyond that. Packet ids are the Backend's
// own.
func (b *Backend) Publish(ctx context.Context, topic string, payload []byte, qos byte) error {
	if err := checkPublish(1, topic, payload, qos); err != nil {
		return err
	}
	for {
		l, err := b.live(ctx)
		if err != nil {
			return err
		}
		if qos == 0 {
			return l.s.Publish(0, topic, payload, 0, false)
		}
		select {
		case l.window <- struct{}{}:
			return l.s.Publish(b.nextID(), topic, payload, qos, false)
		case <-l.gone: // wait for the next connection
		case <-ctx.Done():
			return fmt.Errorf("mqtt backend: waiting for acks: %w", ctx.Err())
		}
	}
}

// Close disconnects and stops reconnecting. It is idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	l, stop := b.cur, b.stop
	if l == nil {
		close(b.ready) // wake waiters in live
	} else {
		l.markLost() // wake waiters for window room
	}
	b.cur = nil
	b.failPending()
	close(b.quit)
	b.mu.Unlock()
	if stop != nil {
		stop()
	}
	var err error
	if l != nil {
		err = l.s.Close()
	}
	b.wg.Wait()
	return err
}
