package mqtt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Subscribe adds subscriptions and returns once every connection has them
// (the broker's SUBACKs), or ctx ends. Many filters go out in several
// SUBSCRIBE packets, each acknowledged in turn. deliver is called for
// every inbound message matching one of subs, with the time it reached
// this host (on Linux the kernel's receive timestamp of the read that
// completed it; elsewhere the time that read returned) and a payload
// valid only during the call. Each connection calls it from its own
// goroutine, so with several connections calls overlap. The subscriptions
// are renewed after every reconnect.
func (b *Backend) Subscribe(ctx context.Context, subs []Subscription, deliver func(topic string, payload []byte, arrived time.Time)) error {
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
	b.setGroupsLocked(append(slices.Clone(b.groups), g))
	b.mu.Unlock()
	err := b.subscribeAll(ctx, g)
	if err != nil {
		b.mu.Lock()
		b.setGroupsLocked(slices.DeleteFunc(slices.Clone(b.groups), func(x *subGroup) bool { return x == g }))
		b.mu.Unlock()
	}
	return err
}

func (b *Backend) setGroupsLocked(groups []*subGroup) {
	b.groups = groups
	b.routes.Store(newRouter(groups))
}

// subscribeAll subscribes g on every connection at once; the first
// failure cancels the rest.
func (b *Backend) subscribeAll(ctx context.Context, g *subGroup) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(b.conns))
	var wg sync.WaitGroup
	for i, c := range b.conns {
		wg.Go(func() {
			if errs[i] = b.awaitSubscribed(ctx, c, g); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err // the cause, not a cancellation it caused
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// awaitSubscribed returns once c has g's subscriptions: through a
// reconnect's handshake, or by subscribing on the live connection.
func (b *Backend) awaitSubscribed(ctx context.Context, c *bconn, g *subGroup) error {
	for {
		l, err := b.live(ctx, c)
		if err != nil {
			return err
		}
		if l.upTo >= g.seq {
			return nil
		}
		if err := b.subscribeOn(ctx, l, g.subs); !errors.Is(err, errLinkLost) {
			return err
		}
		select { // for Lost, which starts the reconnect
		case <-l.gone:
		case <-ctx.Done():
			return fmt.Errorf("mqtt backend: waiting for the connection: %w", ctx.Err())
		}
	}
}

// live returns c's current connection, waiting for a reconnect if needed.
func (b *Backend) live(ctx context.Context, c *bconn) (*link, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, ErrClosed
		}
		if l := c.cur.Load(); l != nil {
			b.mu.Unlock()
			return l, nil
		}
		ready := c.ready
		b.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("mqtt backend: waiting for the connection: %w", ctx.Err())
		}
	}
}

// subscribeOn sends subs on l in packets of bounded size, each awaited
// for at most Options.Timeout.
func (b *Backend) subscribeOn(ctx context.Context, l *link, subs []Subscription) error {
	for len(subs) > 0 {
		n := subscribeBatch(subs, b.prefix)
		if err := b.subscribeOne(ctx, l, subs[:n]); err != nil {
			return err
		}
		subs = subs[n:]
	}
	return nil
}

func (b *Backend) subscribeOne(ctx context.Context, l *link, subs []Subscription) error {
	id := b.nextID()
	ch := make(chan []byte, 1)
	b.mu.Lock()
	if l.lost {
		b.mu.Unlock()
		return errLinkLost
	}
	if l.pending == nil {
		l.pending = map[uint16]chan []byte{}
	}
	l.pending[id] = ch
	b.mu.Unlock()
	if err := l.s.subscribe(id, subs); err != nil {
		b.forget(l, id)
		return errLinkLost // the session is ending; Lost will reconnect
	}
	t := time.NewTimer(b.opts.Timeout)
	defer t.Stop()
	select {
	case codes, ok := <-ch:
		if !ok {
			return errLinkLost
		}
		return checkSuback(packet{typ: typeSuback, id: id, codes: codes}, id, subs, b.opts.ProtocolVersion == V5)
	case <-t.C:
		b.forget(l, id)
		return fmt.Errorf("mqtt backend: no SUBACK within %v: %w", b.opts.Timeout, os.ErrDeadlineExceeded)
	case <-ctx.Done():
		b.forget(l, id)
		return fmt.Errorf("mqtt backend: waiting for SUBACK: %w", ctx.Err())
	}
}

func (b *Backend) forget(l *link, id uint16) {
	b.mu.Lock()
	delete(l.pending, id)
	b.mu.Unlock()
}

// onSuback runs on l's reader goroutine; codes alias its buffer.
func (l *link) onSuback(id uint16, codes []byte) {
	b := l.c.b
	b.mu.Lock()
	ch := l.pending[id]
	delete(l.pending, id)
	b.mu.Unlock()
	if ch != nil {
		ch <- slices.Clone(codes) // buffered, and sent to once
	}
}

// router finds the Subscribe calls an inbound topic belongs to. Filters
// without wildcards (a scenario that times a sample of a large fleet
// subscribes each sampled device's own topic: up to 100,000 of them) are
// found in a map; the others are matched one by one.
type router struct {
	groups []*subGroup
	exact  map[string]exactRoute
	wild   [][]string // per group, its filters with wildcards
}

// exactRoute is the groups that subscribed one topic exactly.
type exactRoute struct {
	topic  string // the map key, handed to deliver without a new string
	groups []int  // indexes into router.groups, ascending
}

func newRouter(groups []*subGroup) *router {
	r := &router{groups: groups, exact: map[string]exactRoute{}, wild: make([][]string, len(groups))}
	for i, g := range groups {
		for _, s := range g.subs {
			if strings.ContainsAny(s.Topic, "+#") {
				r.wild[i] = append(r.wild[i], s.Topic)
				continue
			}
			e, ok := r.exact[s.Topic]
			if !ok {
				e.topic = s.Topic
			}
			if len(e.groups) == 0 || e.groups[len(e.groups)-1] != i {
				e.groups = append(e.groups, i)
			}
			r.exact[s.Topic] = e
		}
	}
	return r
}

// route hands a message to every group with a matching filter, once each,
// in the order they subscribed.
func (r *router) route(topic, payload []byte, arrived time.Time) {
	e := r.exact[string(topic)]
	name := e.topic // "" unless an exact filter matched
	for i, g := range r.groups {
		hit := len(e.groups) > 0 && e.groups[0] == i
		if hit {
			e.groups = e.groups[1:]
		} else if len(r.wild[i]) > 0 {
			if name == "" {
				name = string(topic)
			}
			for _, f := range r.wild[i] {
				if hit = match(f, name); hit {
					break
				}
			}
		}
		if hit {
			g.deliver(name, payload, arrived)
		}
	}
}
