package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// request is one request to a device, from the call that made it to its
// answer.
type request struct {
	reg     *registration
	op      lwm2m.Op
	msg     coap.Message // without message id; Token set
	token   uint32
	b       []byte // the encoded message, sent again as is
	to      netip.AddrPort
	mid     uint16
	sends   int
	timeout time.Duration
	due     time.Time
	acked   bool // an empty ACK came: the separate response is awaited
	queued  bool // it waited for a queue-mode device to wake
	sent    time.Time
	obs     *Observation // an Observe registration
	done    chan result  // capacity 1: the answer is never blocked on
}

// result is how a request ended.
type result struct {
	resp *coap.Message // the caller's
	err  error
}

// midKey names a confirmable request by its recipient and message id.
type midKey struct {
	to  netip.AddrPort
	mid uint16
}

// tokenLen is the length of the server's tokens.
const tokenLen = 4

// do sends msg to the device registered as ep and waits for its answer
// (or ctx's end). An error code is an answer, not an error.
func (s *Server) do(ctx context.Context, ep string, op lwm2m.Op, msg *coap.Message, obs *Observation) (*coap.Message, error) {
	req, err := s.submit(ep, op, msg, obs)
	if err != nil {
		return nil, err
	}
	select {
	case r := <-req.done:
		return r.resp, r.err
	case <-ctx.Done():
		s.abandon(req)
		return nil, ctx.Err()
	}
}

// submit queues a request for ep and sends it when the device can take
// it.
func (s *Server) submit(ep string, op lwm2m.Op, msg *coap.Message, obs *Observation) (*request, error) {
	s.mu.Lock()
	defer s.unlock()
	r := s.byEP[ep]
	switch {
	case s.closed:
		return nil, ErrClosed
	case r == nil:
		return nil, ErrNotRegistered
	case s.pending >= s.c.MaxPending || len(r.waiting) >= s.c.QueueLimit:
		return nil, ErrBusy
	}
	req := &request{reg: r, op: op, msg: *msg, obs: obs, done: make(chan result, 1)}
	req.msg.Type = coap.Confirmable
	switch tok, ok := tokenOf(msg.Token); {
	case obs != nil:
		req.token = obs.token
	case ok: // a cancellation reuses its observation's token
		req.token = tok
	default:
		s.token++
		req.token = s.token
	}
	req.msg.Token = binary.BigEndian.AppendUint32(nil, req.token)
	s.pending++
	r.waiting = append(r.waiting, req)
	now := time.Now()
	if !s.awake(r, now) {
		req.queued = true
		s.st.add(cQueued)
	}
	s.pump(r, now)
	return req, nil
}

// awake reports whether a device listens now: always, unless it is in
// queue mode and its awake time since the last Register or Update has
// passed.
func (s *Server) awake(r *registration, now time.Time) bool {
	return !r.queue || now.Before(r.awakeUntil)
}

// woke starts the awake time of a device that registered or updated,
// and sends it what waits. s.mu must be held.
func (s *Server) woke(r *registration, now time.Time) {
	r.awakeUntil = now.Add(s.c.AwakeTime)
	if req := r.inflight; req != nil && !req.acked && r.queue {
		// Sent while the device slept: it listens now, so the
		// retransmission need not wait for its timeout.
		s.transmit(req, now)
	}
	s.pump(r, now)
}

// pump sends r's next request if none is under way and the device
// listens. s.mu must be held.
func (s *Server) pump(r *registration, now time.Time) {
	if r.inflight != nil || len(r.waiting) == 0 || !s.awake(r, now) || s.closed {
		return
	}
	req := r.waiting[0]
	r.waiting[0] = nil
	r.waiting = r.waiting[1:]
	if len(r.waiting) == 0 {
		r.waiting = nil
	}
	r.inflight = req
	req.mid, r.mid = r.mid, r.mid+1
	req.msg.MessageID = req.mid
	var err error
	if req.b, err = req.msg.AppendBinary(nil); err != nil {
		r.inflight = nil
		s.finish(req, result{err: err})
		s.pump(r, now)
		return
	}
	req.timeout = s.firstTimeout()
	req.sent = now
	s.inflight[req.token] = req
	s.transmit(req, now)
	s.st.op(req.op)
}

// firstTimeout draws a CON's first retransmission timeout from
// [AckTimeout, AckTimeout*1.5) (RFC 7252 §4.2). s.mu must be held.
func (s *Server) firstTimeout() time.Duration {
	return s.c.AckTimeout + time.Duration(s.rng.Int64N(int64(s.c.AckTimeout)/2+1))
}

// transmit sends req to its device's current address (which an Update
// from a rebound port may have moved) and arms its retransmission.
// s.mu must be held.
func (s *Server) transmit(req *request, now time.Time) {
	delete(s.byMID, midKey{req.to, req.mid})
	req.to = req.reg.addr
	s.byMID[midKey{req.to, req.mid}] = req
	req.sends++
	if req.sends > 1 {
		s.st.add(cRetransmissions)
		req.timeout *= 2
	}
	req.due = now.Add(req.timeout)
	s.send(req.b, req.to)
	s.arm(req.due)
}

// answered handles an ACK or RST from a device. s.mu must be held.
func (s *Server) answered(m *coap.Message, from netip.AddrPort, now time.Time) {
	req := s.byMID[midKey{from, m.MessageID}]
	switch {
	case req == nil:
		s.st.add(cUnmatched) // late, duplicate, or for a notification ACK we never asked for
	case m.Type == coap.Reset:
		s.st.add(cResets)
		s.end(req, result{err: &coap.ResetError{MessageID: req.mid}}, now)
	case m.Code == coap.Empty:
		delete(s.byMID, midKey{req.to, req.mid})
		req.acked = true
		req.due = now.Add(s.c.ResponseTimeout)
		s.arm(req.due)
	case !bytes.Equal(m.Token, req.msg.Token):
		s.st.add(cUnmatched)
	default:
		s.end(req, result{resp: m.Clone()}, now)
	}
}

// response handles a response in its own CON or NON message: a separate
// response, or a notification. s.mu must be held.
func (s *Server) response(m *coap.Message, from netip.AddrPort, now time.Time) {
	if dup, reply := s.dedup.lookup(from, m.MessageID, now); dup {
		s.st.add(cDuplicates)
		if reply != nil {
			s.send(reply, from)
		}
		return
	}
	tok, ok := tokenOf(m.Token)
	req := s.inflight[tok]
	switch {
	case ok && req != nil:
		s.ack(m, from, now)
		s.end(req, result{resp: m.Clone()}, now)
	case ok && s.obs[tok] != nil:
		s.ack(m, from, now)
		s.notification(s.obs[tok], m, now)
	default:
		// Nothing of ours: RST tells the device to forget it (RFC 7641
		// §3.6 for a notification, RFC 7252 §4.2 for a CON).
		s.st.add(cUnmatched)
		s.empty(coap.Reset, m.MessageID, from)
		s.dedup.store(from, m.MessageID, now, s.out)
	}
}

// ack acknowledges a CON response (a NON is only remembered). s.mu must
// be held.
func (s *Server) ack(m *coap.Message, from netip.AddrPort, now time.Time) {
	if m.Type != coap.Confirmable {
		s.dedup.store(from, m.MessageID, now, nil)
		return
	}
	s.empty(coap.Acknowledgement, m.MessageID, from)
	s.dedup.store(from, m.MessageID, now, s.out)
}

// tokenOf returns a token of the server's as its number.
func tokenOf(b []byte) (uint32, bool) {
	if len(b) != tokenLen {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

// end finishes the request under way to its device and sends the next.
// s.mu must be held.
func (s *Server) end(req *request, res result, now time.Time) {
	delete(s.inflight, req.token)
	delete(s.byMID, midKey{req.to, req.mid})
	r := req.reg
	if r.inflight == req {
		r.inflight = nil
	}
	if res.resp != nil {
		s.st.code(req.op, res.resp.Code)
	}
	s.finish(req, res)
	s.pump(r, now)
}

// finish hands req its result. s.mu must be held.
func (s *Server) finish(req *request, res result) {
	s.pending--
	if req.obs != nil {
		s.established(req.obs, req.reg, res)
	}
	req.done <- res
}

// abandon drops a request whose caller stopped waiting. s.mu must be
// held by no one.
func (s *Server) abandon(req *request) {
	s.mu.Lock()
	defer s.unlock()
	r := req.reg
	switch {
	case r.inflight == req:
		delete(s.inflight, req.token)
		delete(s.byMID, midKey{req.to, req.mid})
		r.inflight = nil
		s.pending--
		s.pump(r, time.Now())
	default:
		for i, w := range r.waiting {
			if w == req {
				r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
				s.pending--
				break
			}
		}
	}
	if req.obs != nil {
		s.unobserve(req.obs)
	}
}

// fail ends r's requests, under way and waiting, with err. s.mu must be
// held.
func (s *Server) fail(r *registration, err error) {
	if req := r.inflight; req != nil {
		delete(s.inflight, req.token)
		delete(s.byMID, midKey{req.to, req.mid})
		r.inflight = nil
		s.finish(req, result{err: err})
	}
	for _, req := range r.waiting {
		s.finish(req, result{err: err})
	}
	r.waiting = nil
}

// arm makes the timer fire by at. s.mu must be held.
func (s *Server) arm(at time.Time) {
	if s.closed || !s.armed.IsZero() && !at.Before(s.armed) {
		return
	}
	s.armed = at
	s.timer.Reset(max(0, time.Until(at)))
}

// tick is the timer's function: retransmissions, timeouts and expiries
// that are due, then the timer re-armed for the next.
func (s *Server) tick() {
	s.mu.Lock()
	defer s.unlock()
	if s.closed {
		return
	}
	now := time.Now()
	s.armed = time.Time{}
	if !s.sweep.IsZero() && !now.Before(s.sweep) {
		s.expire(now)
	}
	var next time.Time
	for _, req := range s.inflight {
		if now.Before(req.due) {
			next = earliest(next, req.due)
			continue
		}
		if req.acked || req.sends > s.c.MaxRetransmit {
			s.st.add(cTimeouts)
			s.end(req, result{err: &coap.TimeoutError{Transmissions: req.sends, Acked: req.acked}}, now)
			continue
		}
		s.transmit(req, now)
		next = earliest(next, req.due)
	}
	for _, t := range [...]time.Time{next, s.sweep} {
		if !t.IsZero() {
			s.arm(t)
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
