package coap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"syscall"
	"time"
)

// readLoop is the session's one goroutine: it reads datagrams until the
// conn fails or Close closes it. An ICMP port-unreachable report
// (ECONNREFUSED on a connected UDP socket) does not end it: the server
// may come back, and the exchanges time out as they would on a link that
// lost the datagrams.
func (s *Session) readLoop() {
	defer close(s.done)
	for {
		n, err := s.conn.Read(s.buf)
		switch {
		case err == nil:
		case errors.Is(err, syscall.ECONNREFUSED):
			s.c.add(cRefused)
			continue
		case skippable(err):
			s.c.add(cMalformed)
			continue
		default:
			s.lost(err)
			return
		}
		if n > s.o.MaxMessageSize {
			s.c.add(cMalformed)
			continue
		}
		s.receive(s.buf[:n])
	}
}

// skippable reports a read error that loses one datagram, not the
// socket: a temporary error that is not a timeout, as pion/dtls returns
// for a record longer than the read buffer.
func skippable(err error) bool {
	var t interface {
		Temporary() bool
		Timeout() bool
	}
	return errors.As(err, &t) && t.Temporary() && !t.Timeout()
}

// receive acts on one datagram.
func (s *Session) receive(b []byte) {
	m := &s.in
	if err := Decode(b, m); err != nil {
		s.c.add(cMalformed)
		return
	}
	switch {
	case m.Type == Acknowledgement || m.Type == Reset:
		s.onAnswer(m)
	case m.Code.IsResponse():
		s.onResponse(m)
	case m.Code.IsRequest():
		s.onRequest(m)
	case m.Code == Empty && m.Type == Confirmable:
		// A ping from the server: RST answers it (RFC 7252 §4.3).
		s.mu.Lock()
		s.reply(Reset, m.MessageID)
		s.mu.Unlock()
	default:
		s.c.add(cMalformed) // a NON 0.00, or a code of a reserved class
	}
}

// onAnswer handles an ACK or RST: they answer our message m.MessageID.
func (s *Session) onAnswer(m *Message) {
	var cs completions
	s.mu.Lock()
	ex := s.pendingByMID(m.MessageID)
	switch {
	case ex == nil:
		s.stray(m, true)
	case m.Type == Reset && ex.ping:
		s.finish(ex, Result{Response: m}, &cs)
	case m.Type == Reset:
		s.c.add(cResets)
		s.finish(ex, Result{Err: &ResetError{MessageID: ex.mid}}, &cs)
	case ex.state == waitResp:
		s.c.add(cDuplicates) // an ACK for a CON acknowledged already
	case ex.state != waitAck:
		s.c.add(cUnmatched) // an ACK for a NON
	case m.Code == Empty && (ex.ping || ex.notif):
		s.finish(ex, Result{Response: m}, &cs)
	case m.Code == Empty:
		s.acked(ex, s.now())
	case !m.Code.IsResponse() || !bytes.Equal(m.Token, ex.tok()):
		s.c.add(cUnmatched) // not a response to ex: ignored, ex retransmits
	default:
		s.c.code(m.Code)
		s.finish(ex, Result{Response: m}, &cs)
	}
	s.next(s.now(), &cs)
	s.mu.Unlock()
	cs.run(s)
}

// pendingByMID returns the pending exchange sent with message id mid.
func (s *Session) pendingByMID(mid uint16) *exchange {
	for _, ex := range s.pending {
		if ex.mid == mid {
			return ex
		}
	}
	return nil
}

// onResponse handles a response in its own CON or NON message: a
// separate response, or the answer to a NON request.
func (s *Session) onResponse(m *Message) {
	var cs completions
	s.mu.Lock()
	if s.duplicate(m) || s.onNotification(m, &cs) {
		s.mu.Unlock()
		cs.run(s)
		return
	}
	var ex *exchange
	for _, e := range s.pending {
		if e.state != waitNone && !e.notif && bytes.Equal(e.tok(), m.Token) {
			ex = e
			break
		}
	}
	switch {
	case ex != nil:
		s.c.code(m.Code)
		if ex.con {
			s.c.add(cSeparate)
		}
		s.finish(ex, Result{Response: m, Separate: ex.con}, &cs)
		s.next(s.now(), &cs)
		s.ackOrReject(m, Acknowledgement)
	default:
		s.rejectStray(m)
	}
	s.mu.Unlock()
	cs.run(s)
}

// ackOrReject answers a CON from the server with an empty ACK or RST and
// remembers the answer for its duplicates; a NON is only remembered.
func (s *Session) ackOrReject(m *Message, typ Type) {
	if m.Type == Confirmable {
		s.reply(typ, m.MessageID)
		s.saw(m.MessageID, s.out)
	} else {
		s.saw(m.MessageID, nil)
	}
}

// reply sends an empty ACK or RST for message id mid, leaving it in s.out.
func (s *Session) reply(typ Type, mid uint16) {
	s.out = append(s.out[:0], version<<6|byte(typ)<<4, byte(Empty))
	s.out = binary.BigEndian.AppendUint16(s.out, mid)
	s.own(s.out, false)
}

// onRequest hands a request from the server to Options.Handler and sends
// its answer: piggybacked on the ACK of a CON, or a NON response.
func (s *Session) onRequest(m *Message) {
	s.mu.Lock()
	dup := s.duplicate(m)
	s.mu.Unlock()
	if dup {
		return
	}
	s.c.add(cServerRequests)
	var resp *Message
	handled := false
	if h := s.o.Handler; h != nil {
		s.cbmu.Lock()
		if !s.userClosed.Load() {
			s.inCall.Store(true)
			resp, handled = h(m), true
			s.inCall.Store(false)
		}
		s.cbmu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	switch {
	case !handled:
		s.ackOrReject(m, Reset)
	case resp == nil:
		s.ackOrReject(m, Acknowledgement)
	default:
		s.respond(m, resp)
	}
}

// respond sends the Handler's response to request req and remembers it
// for req's duplicates.
func (s *Session) respond(req, resp *Message) {
	r := *resp
	r.Token = req.Token
	if req.Type == Confirmable {
		r.Type, r.MessageID = Acknowledgement, req.MessageID
	} else {
		if !s.ids.take(s.now(), s.o.ExchangeLifetime) {
			s.saw(req.MessageID, nil)
			return // no message id free: the server will ask again
		}
		r.Type, r.MessageID = NonConfirmable, s.nextMID
		s.nextMID++
		s.issued++
	}
	var err error
	if s.out, err = r.AppendBinary(s.out[:0]); err != nil {
		// The handler's response cannot be encoded: answer 5.00.
		r = Message{Type: r.Type, Code: InternalServerError, MessageID: r.MessageID, Token: r.Token}
		s.out, _ = r.AppendBinary(s.out[:0])
	}
	s.own(s.out, false)
	if req.Type == Confirmable {
		s.saw(req.MessageID, s.out)
	} else {
		s.saw(req.MessageID, nil)
	}
}

// seenRing remembers the message ids of the last server messages, with
// the answer the session sent to each, for duplicate detection (RFC 7252
// §4.5): a duplicate CON gets the same answer again, a duplicate NON is
// dropped, and neither is handled twice. An id is remembered for
// ExchangeLifetime, or until 8 newer messages pushed it out.
type seenRing struct {
	e    [8]seenEntry
	next int
}

type seenEntry struct {
	mid   uint16
	valid bool
	at    time.Duration
	reply []byte // what was sent in answer; nil for none
}

// duplicate reports whether m's id was seen lately; if so it is counted
// and the answer sent again.
func (s *Session) duplicate(m *Message) bool {
	if s.seen == nil {
		return false
	}
	now := s.now()
	for i := range s.seen.e {
		e := &s.seen.e[i]
		if e.valid && e.mid == m.MessageID && (s.o.ExchangeLifetime < 0 || now-e.at < s.o.ExchangeLifetime) {
			s.c.add(cDuplicates)
			if e.reply != nil {
				s.own(e.reply, false)
			}
			return true
		}
	}
	return false
}

// saw records server message id mid and the answer sent to it.
func (s *Session) saw(mid uint16, reply []byte) {
	if s.seen == nil {
		s.seen = new(seenRing)
	}
	e := &s.seen.e[s.seen.next]
	s.seen.next = (s.seen.next + 1) % len(s.seen.e)
	e.mid, e.valid, e.at = mid, true, s.now()
	if reply == nil {
		e.reply = nil // nothing to send again
		return
	}
	e.reply = append(e.reply[:0], reply...)
}
