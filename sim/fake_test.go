package sim

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// fakeBroker is an in-memory MQTT stand-in for engine tests under
// testing/synctest: it routes by topic filter, acknowledges, and adds a
// fixed one-way delay per hop. While held, nothing it forwards arrives
// before the hold ends, which is how a stalled broker looks to clients.
type fakeBroker struct {
	delay time.Duration

	mu        sync.Mutex // guards the fields below
	holdUntil time.Time
	sessions  map[*fakeSession]bool
	subs      []Subscription // backend's
	deliver   func(Delivery)
	log       []string // "topic|payload" of every device publish, in order
	refuse    bool
	noAck     bool
	twice     bool          // deliver to the backend twice, as a retransmission can
	failCmds  error         // fail every command with this error instead of routing it
	resend    time.Duration // > 0: each send is retransmitted once, this long after
	conns     []uint64      // ConnectSpec.Conn of every accepted connect
}

func newFakeBroker(delay time.Duration) *fakeBroker {
	return &fakeBroker{delay: delay, sessions: map[*fakeSession]bool{}}
}

// later runs f after the hop delay, or after the hold ends.
func (b *fakeBroker) later(f func()) {
	b.mu.Lock()
	at := time.Now()
	if at.Before(b.holdUntil) {
		at = b.holdUntil
	}
	b.mu.Unlock()
	time.AfterFunc(time.Until(at)+b.delay, f)
}

func (b *fakeBroker) hold(d time.Duration) {
	b.mu.Lock()
	b.holdUntil = time.Now().Add(d)
	b.mu.Unlock()
}

func match(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

// route forwards a publish to the backend and to subscribed sessions.
func (b *fakeBroker) route(topic string, payload []byte) {
	p := append([]byte(nil), payload...)
	b.mu.Lock()
	var targets []*fakeSession
	for s := range b.sessions {
		for _, sub := range s.subs {
			if match(sub.Topic, topic) {
				targets = append(targets, s)
			}
		}
	}
	toBackend := false
	for _, sub := range b.subs {
		toBackend = toBackend || match(sub.Topic, topic)
	}
	deliver, twice := b.deliver, b.twice
	b.mu.Unlock()
	for _, s := range targets {
		b.later(func() { s.h.Message(topic, p) })
	}
	if toBackend {
		b.later(func() { deliver(Delivery{Topic: topic, Payload: p}) })
		if twice {
			b.later(func() { deliver(Delivery{Topic: topic, Payload: p}) })
		}
	}
}

// dropAll ends every session as a broker restart would.
func (b *fakeBroker) dropAll() {
	b.mu.Lock()
	all := b.sessions
	b.sessions = map[*fakeSession]bool{}
	b.mu.Unlock()
	for s := range all {
		s.h.Lost(errors.New("fake: connection reset"))
	}
}

func (b *fakeBroker) connected() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

// Connect implements Connector.
func (b *fakeBroker) Connect(ctx context.Context, spec ConnectSpec, h Handler) (Session, error) {
	b.mu.Lock()
	refuse := b.refuse
	b.mu.Unlock()
	if refuse {
		return nil, errors.New("fake: refused")
	}
	s := &fakeSession{b: b, h: h, subs: spec.Subscribe}
	b.mu.Lock()
	b.sessions[s] = true
	b.conns = append(b.conns, spec.Conn)
	b.mu.Unlock()
	return s, nil
}

// Subscribe implements Backend.
func (b *fakeBroker) Subscribe(ctx context.Context, subs []Subscription, deliver func(Delivery)) error {
	b.mu.Lock()
	b.subs = append(b.subs, subs...)
	b.deliver = deliver
	b.mu.Unlock()
	return nil
}

// Publish implements Backend.
func (b *fakeBroker) Publish(ctx context.Context, m Outbound) error {
	b.mu.Lock()
	fail, deliver := b.failCmds, b.deliver
	b.mu.Unlock()
	if tok, ok := FindToken(m.Payload); ok && tok.Kind == TokenCommand && fail != nil {
		// As a server whose request to the device failed reports it.
		tok.Kind = TokenReply
		reply := tok.Append(nil)
		if tok.Intended < 0 {
			reply = tok.AppendShort(nil)
		}
		b.later(func() { deliver(Delivery{Topic: m.Topic, Payload: reply, Err: fail}) })
		return nil
	}
	b.route(m.Topic, m.Payload)
	return nil
}

type fakeSession struct {
	b    *fakeBroker
	h    Handler
	subs []Subscription
}

func (s *fakeSession) Send(m Message) error {
	s.b.mu.Lock()
	s.b.log = append(s.b.log, m.Dest+"|"+string(m.Payload))
	noAck, resend := s.b.noAck, s.b.resend
	s.b.mu.Unlock()
	if resend > 0 {
		n := len(m.Payload)
		time.AfterFunc(resend, func() { s.h.Transmitted(n) })
	}
	if m.Ref != 0 && !noAck {
		s.b.later(func() { s.h.Acked(m.Ref) })
	}
	s.b.route(m.Dest, m.Payload)
	return nil
}

func (s *fakeSession) Ping() error { return nil }

func (s *fakeSession) Close() error {
	s.b.mu.Lock()
	delete(s.b.sessions, s)
	s.b.mu.Unlock()
	return nil
}
