package coap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Exchange states.
const (
	waitAck  uint8 = iota // a CON sent, not yet acknowledged: counts against NStart
	waitResp              // a CON acknowledged by an empty ACK, awaiting its separate response
	waitNon               // a NON request awaiting its response: counts against NStart
	waitNone              // a NON that expects no answer (No-Response): ends at the next tick
)

// exchange is one request from Start to its end.
type exchange struct {
	msg      []byte // the encoded request, sent again as is
	mid      uint16
	token    [maxToken]byte
	tlen     uint8
	con      bool
	ping     bool
	notif    bool // a notification the device sends (Notify), not a request
	state    uint8
	sends    int
	timeout  time.Duration // the current retransmission timeout
	due      time.Duration // since the epoch: the next retransmission, or when to give up
	sent     time.Time
	separate bool
	seq      uint64 // tells this use of a pooled exchange from earlier ones
	done     func(Result)
}

func (ex *exchange) tok() []byte { return ex.token[:ex.tlen] }

// counts reports whether ex is an outstanding interaction (RFC 7252 §4.7).
func (ex *exchange) counts() bool { return ex.state == waitAck || ex.state == waitNon }

// now is the session's clock: the time since its epoch, monotonic.
func (s *Session) now() time.Duration { return time.Since(s.epoch) }

// start validates and encodes req, then sends it or queues it.
func (s *Session) start(req *Message, done func(Result)) (*exchange, uint64, error) {
	ping := req.Code == Empty && req.Type == Confirmable
	if !ping && (!req.Code.IsRequest() || req.Type > NonConfirmable) || len(req.Token) > maxToken {
		return nil, 0, fmt.Errorf("%w: %v", ErrInvalid, req)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, ErrClosed
	}
	if len(req.Token) > 0 && s.tokenInUse(req.Token) {
		return nil, 0, fmt.Errorf("%w: token %x in use", ErrInvalid, req.Token)
	}
	return s.enqueue(req, done, false)
}

// enqueue encodes a valid message (a request, or a notification when
// notif) and sends it, or queues it behind NSTART. s.mu must be held and
// the session open.
func (s *Session) enqueue(req *Message, done func(Result), notif bool) (*exchange, uint64, error) {
	if s.outstanding >= s.o.NStart && len(s.queue) >= s.o.QueueLimit {
		return nil, 0, &QueueFullError{Limit: s.o.QueueLimit}
	}
	ex, err := s.newExchange(req, done, notif)
	if err != nil {
		return nil, 0, err
	}
	counter := cRequests
	if notif {
		counter = cNotificationsSent
	}
	if s.outstanding >= s.o.NStart {
		s.queue = append(s.queue, ex)
		s.c.add(counter)
		return ex, ex.seq, nil
	}
	if err := s.first(ex, s.now()); err != nil {
		s.release(ex)
		return nil, 0, err
	}
	s.c.add(counter)
	return ex, ex.seq, nil
}

// newExchange encodes req with a token (its own or a fresh one; a
// notification keeps the observer's, even empty) and a placeholder
// message id, set when it is first sent.
func (s *Session) newExchange(req *Message, done func(Result), notif bool) (*exchange, error) {
	ex := s.spare
	if ex == nil {
		ex = new(exchange)
	}
	s.spare = nil
	*ex = exchange{msg: ex.msg[:0], done: done, con: req.Type == Confirmable, ping: req.Code == Empty, notif: notif}
	s.seq++
	ex.seq = s.seq
	switch {
	case len(req.Token) > 0 || notif:
		ex.tlen = uint8(copy(ex.token[:], req.Token))
	case !ex.ping:
		s.newToken(ex.token[:])
		ex.tlen = 4
	}
	m := *req
	m.Token = ex.tok()
	var err error
	if ex.msg, err = m.AppendBinary(ex.msg); err != nil {
		s.release(ex)
		return nil, err
	}
	if !ex.con && (notif || suppressesAll(req)) {
		ex.state = waitNone
	}
	return ex, nil
}

// newToken writes the session's next 4-byte token to b. Tokens are
// issued in sequence, which is how stray answers are classified.
func (s *Session) newToken(b []byte) {
	binary.BigEndian.PutUint32(b, s.nextToken)
	s.nextToken++
}

// suppressesAll reports whether req has a No-Response option that
// suppresses responses of every class (RFC 7967: bits 2, 8 and 16).
func suppressesAll(req *Message) bool {
	v, ok := req.Uint(NoResponse)
	return ok && v&26 == 26
}

// tokenInUse reports whether a request or an observation of the session
// holds tok. Notifications the device sends carry its observers' tokens,
// another namespace, and do not count.
func (s *Session) tokenInUse(tok []byte) bool {
	for _, list := range [][]*exchange{s.pending, s.queue} {
		for _, ex := range list {
			if !ex.notif && bytes.Equal(ex.tok(), tok) {
				return true
			}
		}
	}
	return s.observation(tok) != nil
}

// release keeps an ended exchange as the session's spare, for the next
// request to reuse with its buffer. A pool shared by sessions would do as
// well for allocations, but cancel reads an exchange's seq under its
// session's mutex, which another session's use would race with.
func (s *Session) release(ex *exchange) {
	ex.done, ex.seq = nil, 0
	s.spare = ex
}

// first sends ex for the first time: it takes a message id, draws the
// retransmission timeout, and becomes pending.
func (s *Session) first(ex *exchange, now time.Duration) error {
	if !s.ids.take(now, s.o.ExchangeLifetime) {
		return &MessageIDError{Lifetime: s.o.ExchangeLifetime}
	}
	ex.mid = s.nextMID
	s.nextMID++
	s.issued++
	binary.BigEndian.PutUint16(ex.msg[2:], ex.mid)
	if err := s.write(ex.msg); err != nil {
		return fmt.Errorf("coap: send to %s: %w", s.o.Addr, err)
	}
	ex.sends, ex.sent = 1, time.Now()
	s.c.add(cTransmissions)
	switch {
	case ex.state == waitNone:
		ex.due = now // the timer's goroutine calls done: Start never does
	case ex.con:
		ex.state = waitAck
		ex.timeout = s.initialTimeout()
		ex.due = now + ex.timeout
	default:
		ex.state = waitNon
		ex.due = now + s.o.ResponseTimeout
	}
	s.pending = append(s.pending, ex)
	if ex.counts() {
		s.outstanding++
	}
	s.arm(now, ex.due)
	return nil
}

// initialTimeout draws a confirmable message's first timeout, uniform in
// [AckTimeout, AckTimeout*AckRandomFactor) (RFC 7252 §4.2).
func (s *Session) initialTimeout() time.Duration {
	spread := float64(s.o.AckTimeout) * (s.o.AckRandomFactor - 1)
	return s.o.AckTimeout + time.Duration(s.rng.Float64()*spread)
}

// write sends one datagram. An ICMP port-unreachable report from an
// earlier datagram (ECONNREFUSED) is counted and otherwise ignored, as
// the datagram is lost on the way like any other.
func (s *Session) write(b []byte) error {
	_, err := s.conn.Write(b)
	if err != nil && errors.Is(err, syscall.ECONNREFUSED) {
		s.c.add(cRefused)
		return nil
	}
	return err
}

// forget removes a pending or queued exchange, frees its NSTART slot and
// returns it to the pool. s.mu must be held.
func (s *Session) forget(ex *exchange) {
	if i := indexOf(s.pending, ex); i >= 0 {
		if ex.counts() {
			s.outstanding--
		}
		last := len(s.pending) - 1
		s.pending[i], s.pending[last] = s.pending[last], nil
		s.pending = s.pending[:last]
	} else if i := indexOf(s.queue, ex); i >= 0 {
		s.queue = append(s.queue[:i], s.queue[i+1:]...)
	}
	s.release(ex)
}

func indexOf(list []*exchange, ex *exchange) int {
	for i, e := range list {
		if e == ex {
			return i
		}
	}
	return -1
}

// finish ends ex with res: it is remembered for duplicate detection,
// forgotten, and its callback added to cs.
func (s *Session) finish(ex *exchange, res Result, cs *completions) {
	res.Transmissions, res.Sent = ex.sends, ex.sent
	res.Separate = res.Separate || ex.separate && res.Response != nil
	if res.Response == nil {
		s.remember(ex)
	}
	cs.add(completion{done: ex.done, res: res})
	s.forget(ex)
}

// acked moves a CON acknowledged by an empty ACK to waiting for its
// separate response, freeing its NSTART slot.
func (s *Session) acked(ex *exchange, now time.Duration) {
	ex.state, ex.separate = waitResp, true
	ex.due = now + s.o.ResponseTimeout
	s.outstanding--
	s.arm(now, ex.due)
}

// next sends queued requests while NSTART allows; one that cannot be
// sent ends with the error.
func (s *Session) next(now time.Duration, cs *completions) {
	for s.outstanding < s.o.NStart && len(s.queue) > 0 {
		ex := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if err := s.first(ex, now); err != nil {
			cs.add(completion{done: ex.done, res: Result{Err: err}})
			s.release(ex)
		}
	}
	if len(s.queue) == 0 {
		s.queue = s.queue[:0:0] // let the backing array go once drained
	}
}

// cancel abandons an exchange Do gave up on; false when it had ended.
func (s *Session) cancel(ex *exchange, seq uint64) bool {
	var cs completions
	s.mu.Lock()
	if ex.seq != seq || s.closed {
		s.mu.Unlock()
		return false
	}
	if ex.sends > 0 {
		s.remember(ex)
	}
	s.forget(ex)
	s.next(s.now(), &cs)
	s.mu.Unlock()
	cs.run(s)
	return true
}

// arm makes the timer fire at due at the latest. A timer armed earlier
// stays: it re-arms for the earliest due time when it fires. So a busy
// session resets its timer once per timeout, not once per exchange.
func (s *Session) arm(now, due time.Duration) {
	if s.armed != 0 && s.armed <= due {
		return
	}
	s.armed = due
	if s.timer == nil {
		s.timer = time.AfterFunc(due-now, s.tick)
	} else {
		s.timer.Reset(due - now)
	}
}

// tick retransmits and times out what is due, then re-arms the timer.
// It runs on the timer's goroutine.
func (s *Session) tick() {
	var cs completions
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	now := s.now()
	s.armed = 0
	for i := 0; i < len(s.pending); {
		ex := s.pending[i]
		switch {
		case ex.due > now:
		case ex.state == waitAck && ex.sends <= s.o.MaxRetransmit:
			s.retransmit(ex, now)
		case ex.state == waitNone:
			s.finish(ex, Result{}, &cs)
			continue // forget moved the last exchange to i
		default:
			s.c.add(cTimeouts)
			s.finish(ex, Result{Err: &TimeoutError{Transmissions: ex.sends, Acked: ex.state == waitResp,
				NonConfirmable: !ex.con}}, &cs)
			continue // forget moved the last exchange to i
		}
		i++
	}
	s.next(now, &cs)
	s.endForgotten(&cs)
	for _, ex := range s.pending {
		s.arm(now, ex.due)
	}
	s.mu.Unlock()
	cs.run(s)
}

// own sends a datagram the session sends on its own, not a request's
// first transmission, and reports it to Options.OnFrame. A failed write
// is a lost datagram, as for any other.
func (s *Session) own(b []byte, retransmit bool) {
	s.write(b)
	if s.o.OnFrame != nil {
		s.o.OnFrame(len(b), retransmit)
	}
}

// retransmit sends a CON again and doubles its timeout (RFC 7252 §4.2).
// A failed write counts as a lost datagram: the next timeout retries.
func (s *Session) retransmit(ex *exchange, now time.Duration) {
	s.own(ex.msg, true)
	ex.sends++
	ex.timeout *= 2
	ex.due = now + ex.timeout
	s.c.add(cTransmissions)
	s.c.add(cRetransmissions)
}

// unanswered is what the session remembers of an exchange that ended
// without an answer (timed out, abandoned, or expecting none).
type unanswered struct {
	mid   uint16
	token [maxToken]byte
	tlen  uint8
	valid bool
}

// remember records an exchange that ended without an answer, so that an
// answer arriving after all counts as late.
func (s *Session) remember(ex *exchange) {
	s.unanswered[s.unansweredNext] = unanswered{mid: ex.mid, token: ex.token, tlen: ex.tlen, valid: true}
	s.unansweredNext = (s.unansweredNext + 1) % len(s.unanswered)
}

// stray counts an answer that matches no pending exchange: Late when it
// answers one of the last exchanges that ended unanswered, Duplicates
// when it answers another message the session sent within the exchange
// lifetime (an exchange that ended answered: ids and the session's
// tokens are issued in sequence, so "recent" is a subtraction), Unmatched
// otherwise. byMID matches ACK and RST by message id, else by token.
func (s *Session) stray(m *Message, byMID bool) {
	for _, e := range s.unanswered {
		if e.valid && (byMID && e.mid == m.MessageID || !byMID && bytes.Equal(e.token[:e.tlen], m.Token)) {
			s.c.add(cLate)
			return
		}
	}
	if s.recent(m, byMID) {
		s.c.add(cDuplicates)
		return
	}
	s.c.add(cUnmatched)
}

// recent reports whether m's message id (byMID) or token is among those
// the session issued within the exchange lifetime.
func (s *Session) recent(m *Message, byMID bool) bool {
	n := s.ids.used()
	if s.o.ExchangeLifetime < 0 {
		n = min(s.issued, 1<<16)
	}
	if byMID {
		return uint64(s.nextMID-1-m.MessageID) < n
	}
	if len(m.Token) != 4 {
		return false
	}
	return uint64(s.nextToken-1-binary.BigEndian.Uint32(m.Token)) < n
}

// idWindow counts message ids used over the last ExchangeLifetime, in 16
// slots of a fifteenth of it each, so that no id is reused within the
// lifetime: ids are taken in sequence, so one is reused early exactly
// when 65,536 were taken within the lifetime. The slots span between 15
// and 16 fifteenths of it, so the check errs on the safe side, refusing
// up to 1/15 early: at a steady rate, from 65536/(16/15 * 247s) = 249
// messages per second with the default parameters.
type idWindow struct {
	counts [16]uint32
	slot   int64 // the current slot's number: time / slot length
}

func (w *idWindow) take(now, lifetime time.Duration) bool {
	if lifetime < 0 {
		return true
	}
	cur := int64(now / max(lifetime/15, 1))
	for n := 0; w.slot < cur && n < len(w.counts); n++ {
		w.slot++
		w.counts[w.slot%16] = 0
	}
	w.slot = cur
	if w.used() >= 1<<16 {
		return false
	}
	w.counts[cur%16]++
	return true
}

// used returns how many ids were taken within the window as of the last
// take.
func (w *idWindow) used() uint64 {
	var sum uint64
	for _, c := range w.counts {
		sum += uint64(c)
	}
	return sum
}
