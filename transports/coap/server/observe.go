package server

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// seqMask keeps Observe sequence numbers to their 24 bits (RFC 7641 §4.4).
const seqMask = 1<<24 - 1

// observers is the server's list of observers (RFC 7641 §4.1) and its
// confirmable notifications awaiting acknowledgement.
type observers struct {
	s *Server

	mu      sync.Mutex // guards the fields below; taken after store.mu when both are held
	byPath  map[string][]*observer
	peers   map[endpoint]*peer
	n       int
	pending map[noteKey]*note
	timer   *time.Timer
	armed   time.Time // when the timer fires; zero: not armed
	closed  bool
	rng     *rand.Rand
	msg     coap.Message // scratch for encoding notifications
	out     []byte
	arena   []byte
}

// peer is a client with observers. Its notifications take message ids
// from its own counter, so that no id repeats to it within 65,536
// notifications however many other clients the server notifies.
type peer struct {
	addr endpoint
	mid  uint16
	list []*observer
}

// observer is one registration: a client endpoint and token (RFC 7641
// §4.1) on a resource.
type observer struct {
	p       *peer
	path    string
	token   [8]byte
	tlen    uint8
	sent    uint32 // notifications sent to it
	lastMID uint16 // the message id of its last notification, which an RST names
	note    *note  // its confirmable notification awaiting an ACK
}

func (o *observer) tok() []byte { return o.token[:o.tlen] }

// noteKey names a confirmable notification: its recipient and id.
type noteKey struct {
	to  endpoint
	mid uint16
}

// note is a confirmable notification awaiting its ACK.
type note struct {
	key     noteKey
	o       *observer
	b       []byte
	sends   int
	timeout time.Duration
	due     time.Time
}

func (ob *observers) init(s *Server) {
	ob.s = s
	ob.byPath = make(map[string][]*observer)
	ob.peers = make(map[endpoint]*peer)
	ob.pending = make(map[noteKey]*note)
	ob.rng = rand.New(rand.NewPCG(s.c.Seed, 0x0b5e))
	ob.arena = make([]byte, 0, 32)
}

// register adds or renews the observer (from, token) of the resource at
// path, false when MaxObservers are registered already.
func (ob *observers) register(from endpoint, token []byte, path string) bool {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	p := ob.peers[from]
	if o := p.find(token); o != nil {
		if o.path != path { // the same token for another resource: it replaces the entry
			ob.unlink(o)
			o.path = path
			ob.byPath[path] = append(ob.byPath[path], o)
		}
		return true
	}
	if from.sess != nil && from.sess.ended.Load() {
		return false // its session ended while the request waited: forget has run
	}
	if ob.n >= ob.s.c.MaxObservers {
		ob.s.st.add(cRefused)
		return false
	}
	if p == nil {
		p = &peer{addr: from, mid: uint16(ob.rng.Uint32())}
		ob.peers[from] = p
	}
	o := &observer{p: p, path: path}
	o.tlen = uint8(copy(o.token[:], token))
	p.list = append(p.list, o)
	ob.byPath[path] = append(ob.byPath[path], o)
	ob.n++
	return true
}

// find returns p's observer with token; p may be nil.
func (p *peer) find(token []byte) *observer {
	if p == nil {
		return nil
	}
	for _, o := range p.list {
		if bytes.Equal(o.tok(), token) {
			return o
		}
	}
	return nil
}

// deregister removes the observer (from, token), if any (a GET with
// Observe 1, RFC 7641 §3.6).
func (ob *observers) deregister(from endpoint, token []byte) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if o := ob.peers[from].find(token); o != nil {
		ob.remove(o)
	}
}

// forget removes the observers of a client whose DTLS session ended:
// its observations die with it.
func (ob *observers) forget(from endpoint) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	for p := ob.peers[from]; p != nil && len(p.list) > 0; {
		ob.remove(p.list[len(p.list)-1])
	}
}

// remove drops o and its pending notification. ob.mu must be held.
func (ob *observers) remove(o *observer) {
	ob.unlink(o)
	if o.note != nil {
		delete(ob.pending, o.note.key)
		o.note = nil
	}
	p := o.p
	p.list = deleteObserver(p.list, o)
	if len(p.list) == 0 {
		delete(ob.peers, p.addr)
	}
	ob.n--
}

// unlink takes o off its resource's list. ob.mu must be held.
func (ob *observers) unlink(o *observer) {
	list := deleteObserver(ob.byPath[o.path], o)
	if len(list) == 0 {
		delete(ob.byPath, o.path)
		return
	}
	ob.byPath[o.path] = list
}

func deleteObserver(list []*observer, o *observer) []*observer {
	for i, e := range list {
		if e == o {
			last := len(list) - 1
			list[i], list[last] = list[last], nil
			return list[:last]
		}
	}
	return list
}

// count returns the number of registrations.
func (ob *observers) count() int {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return ob.n
}

// notify sends the resource's new representation to its observers:
// non-confirmable, but every ConfirmEvery-th (or every one, with
// Config.Confirmable) confirmable. A representation larger than a block
// goes as its first block (RFC 7959 §3.4); the observer fetches the
// rest.
func (ob *observers) notify(snap resource) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.closed {
		return
	}
	c := &ob.s.c
	for _, o := range ob.byPath[snap.path] {
		o.sent++
		con := c.Confirmable || c.ConfirmEvery > 0 && o.sent%uint32(c.ConfirmEvery) == 0
		ob.encode(o, con, coap.Content)
		ob.representation(snap)
		ob.send(o, con)
	}
}

// gone tells the observers of a deleted resource with 4.04 and removes
// them (RFC 7641 §3.2: a notification without Observe ends the
// observation).
func (ob *observers) gone(path string) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	list := ob.byPath[path]
	for len(list) > 0 && !ob.closed {
		o := list[len(list)-1]
		ob.encode(o, false, coap.NotFound)
		ob.send(o, false)
		ob.remove(o)
		list = ob.byPath[path]
	}
}

// encode starts a notification to o in ob.msg, with its own message id.
// ob.mu must be held.
func (ob *observers) encode(o *observer, con bool, code coap.Code) {
	m := &ob.msg
	*m = coap.Message{Type: coap.NonConfirmable, Code: code, MessageID: o.p.mid, Token: o.tok(), Options: m.Options[:0]}
	if con {
		m.Type = coap.Confirmable
	}
	o.p.mid++
	o.lastMID = m.MessageID
	ob.arena = ob.arena[:0]
}

// representation adds snap to ob.msg: its Observe number, format and
// payload, or its first block. ob.mu must be held.
func (ob *observers) representation(snap resource) {
	m := &ob.msg
	m.AddOption(coap.Observe, ob.uint(snap.seq))
	if snap.format >= 0 {
		m.AddOption(coap.ContentFormat, ob.uint(uint32(snap.format)))
	}
	size := ob.s.c.BlockSize
	if len(snap.payload) <= size {
		m.Payload = snap.payload
		return
	}
	szx := ob.s.c.szx()
	m.AddOption(coap.ETag, ob.uint(snap.etag))
	m.AddOption(coap.Block2, ob.uint(blockValue(coap.Block{More: true, SZX: szx})))
	m.AddOption(coap.Size2, ob.uint(uint32(len(snap.payload))))
	m.Payload = snap.payload[:size]
}

// uint appends v to the arena and returns its encoding. ob.mu must be
// held.
func (ob *observers) uint(v uint32) []byte {
	start := len(ob.arena)
	ob.arena = putUint(ob.arena, v)
	return ob.arena[start:len(ob.arena):len(ob.arena)]
}

// send encodes and sends ob.msg to o; a confirmable one awaits its ACK,
// replacing o's earlier one, which is not retransmitted any more (RFC
// 7641 §4.5.2). ob.mu must be held.
func (ob *observers) send(o *observer, con bool) {
	var err error
	if ob.out, err = ob.msg.AppendBinary(ob.out[:0]); err != nil {
		return // only a token over 8 bytes fails, and registration keeps 8
	}
	ob.s.send(ob.out, o.p.addr)
	ob.s.st.add(cNotifications)
	ob.s.st.code(ob.msg.Code)
	if !con {
		return
	}
	ob.s.st.add(cConfirmable)
	n := o.note
	if n == nil {
		n = &note{o: o}
		o.note = n
	} else {
		delete(ob.pending, n.key)
	}
	now := time.Now()
	spread := float64(ob.s.c.AckTimeout) / 2 // ACK_RANDOM_FACTOR 1.5
	n.key = noteKey{to: o.p.addr, mid: ob.msg.MessageID}
	n.b = append(n.b[:0], ob.out...)
	n.sends, n.timeout = 1, ob.s.c.AckTimeout+time.Duration(ob.rng.Float64()*spread)
	n.due = now.Add(n.timeout)
	ob.pending[n.key] = n
	ob.arm(now, n.due)
}

// answered takes a client's ACK or RST for message id mid: an ACK ends
// a confirmable notification's retransmissions, an RST removes the
// observer it names (RFC 7641 §3.6), confirmable or not.
func (ob *observers) answered(from endpoint, mid uint16, rst bool) {
	if rst {
		ob.s.st.add(cResets)
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if n := ob.pending[noteKey{from, mid}]; n != nil {
		delete(ob.pending, n.key)
		n.o.note = nil
		if rst {
			ob.remove(n.o)
		}
		return
	}
	if p := ob.peers[from]; rst && p != nil {
		for _, o := range p.list {
			if o.lastMID == mid {
				ob.remove(o)
				return
			}
		}
	}
}

// arm makes the timer fire at due at the latest. ob.mu must be held.
func (ob *observers) arm(now, due time.Time) {
	if !ob.armed.IsZero() && !ob.armed.After(due) {
		return
	}
	ob.armed = due
	if ob.timer == nil {
		ob.timer = time.AfterFunc(due.Sub(now), ob.tick)
		return
	}
	ob.timer.Reset(due.Sub(now))
}

// tick retransmits the confirmable notifications due, and removes the
// observers of those retransmitted MaxRetransmit times in vain (RFC
// 7641 §4.5). It runs on the timer's goroutine.
func (ob *observers) tick() {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.closed {
		return
	}
	now := time.Now()
	ob.armed = time.Time{}
	var next time.Time
	for _, n := range ob.pending {
		if n.due.After(now) {
			next = earliest(next, n.due)
			continue
		}
		if n.sends > ob.s.c.MaxRetransmit {
			ob.s.st.add(cNotifyTimeouts)
			ob.remove(n.o)
			continue
		}
		ob.s.send(n.b, n.key.to)
		ob.s.st.add(cRetransmissions)
		n.sends++
		n.timeout *= 2
		n.due = now.Add(n.timeout)
		next = earliest(next, n.due)
	}
	if !next.IsZero() {
		ob.arm(now, next)
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// stop ends the retransmissions for good.
func (ob *observers) stop() {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	ob.closed = true
	if ob.timer != nil {
		ob.timer.Stop()
	}
}
