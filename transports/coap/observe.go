package coap

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Notification is one call of an Observe callback: the registration's
// response, a notification, or the end of the observation.
type Notification struct {
	// Response is the registration's response or a notification; nil
	// when Err is set. It and its slices are valid only during the call
	// (Clone keeps it).
	Response *Message
	// Observe is Response's Observe option, the server's 24-bit sequence
	// number; 0 when it has none.
	Observe uint32
	// First marks the response to the registration.
	First bool
	// Last marks the end of the observation: no call follows. It ends
	// with a response without an Observe option (the server did not
	// register the device, or removed it), a response other than 2.xx,
	// the deregistration's response, or Err.
	Last bool
	// Err is why the observation ended without a response: the
	// registration's or deregistration's exchange failed (a
	// *TimeoutError, a *ResetError), ErrCanceled, or the session was
	// lost.
	Err error
}

// ErrCanceled ends an observation that Cancel dropped without
// deregistering.
var ErrCanceled = errors.New("coap: observation canceled")

// Observation is a registration with a server's resource (RFC 7641),
// made by Session.Observe.
type Observation struct {
	s      *Session
	notify func(Notification)
	reg    *Message // the registration request; its Token is token[:tlen]
	token  [maxToken]byte
	tlen   uint8

	// Guarded by s.mu.
	state    uint8
	deregDue bool          // Cancel(true) came while registering
	seq      uint32        // the Observe value of the last response delivered
	at       time.Duration // when it arrived, on the session's clock
	err      error         // the Err of the last call, for a forgotten observation
}

// Observation states.
const (
	obsRegistering uint8 = iota // the registration's exchange is under way
	obsActive                   // registered: notifications are delivered
	obsCanceling                // the deregistration's exchange is under way
	obsEnded                    // the last call is made or due
)

// Freshness (RFC 7641 §3.4): a notification is newer than the last one
// delivered when its 24-bit sequence number is ahead by less than half
// the number space, or when 128 seconds have passed since, after which
// the sequence numbers may have wrapped.
const (
	seqMask   = 1<<24 - 1
	seqHalf   = 1 << 23
	seqWindow = 128 * time.Second
)

// observations is a session's share of Observe, guarded by its mu.
type observations struct {
	list      []*Observation // registering, active or canceling
	forgotten []*Observation // ended by Cancel: their last call is due on the timer goroutine
}

// Observe registers with the resource req names (a GET or FETCH; the
// session adds Observe 0 and, when req has none, a token) and calls
// notify with the registration's response (First) and then with every
// notification newer than the last delivered, until a call with Last.
// Confirmable notifications are acknowledged, non-confirmable ones
// accepted; duplicates are dropped and reordered ones too, by the 24-bit
// sequence number and the 128-second rule of RFC 7641 §3.4 (counted as
// Stale). The registration is an exchange like Start's: retransmitted,
// counted against NSTART, queued behind it.
//
// notify runs as done callbacks do: on the session's reader goroutine
// (responses, notifications) or its timer goroutine (timeouts, the end
// after Cancel), one callback at a time, never on the caller's
// goroutine; it must not block. After Close it is not called. Observe
// returns an error, and notify is never called, when the registration
// cannot be sent: ErrInvalid (another method, a token in use), ErrClosed
// and Start's other refusals.
//
// Notifications carrying the first block of a larger representation
// (Block2) are delivered as they are; fetching the rest is the
// caller's (Download with the same request).
func (s *Session) Observe(req *Message, notify func(Notification)) (*Observation, error) {
	if req.Code != GET && req.Code != FETCH || req.Type > NonConfirmable || len(req.Token) > maxToken || notify == nil {
		return nil, fmt.Errorf("%w: observe %v", ErrInvalid, req)
	}
	o := &Observation{s: s, notify: notify, reg: req.Clone()}
	o.reg.SetUint(Observe, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	switch {
	case len(req.Token) == 0:
		s.newToken(o.token[:])
		o.tlen = 4
	case s.tokenInUse(req.Token):
		return nil, fmt.Errorf("%w: token %x in use", ErrInvalid, req.Token)
	default:
		o.tlen = uint8(copy(o.token[:], req.Token))
	}
	o.reg.Token = o.tok()
	if _, _, err := s.enqueue(o.reg, o.registered, false); err != nil {
		return nil, err
	}
	s.obs.list = append(s.obs.list, o)
	return o, nil
}

// Token returns the observation's token, which its notifications carry.
// The slice is the observation's: do not modify it.
func (o *Observation) Token() []byte { return o.tok() }

func (o *Observation) tok() []byte { return o.token[:o.tlen] }

// Cancel ends the observation. With deregister, the session sends a GET
// with the registration's options, its token and Observe 1 (RFC 7641
// §3.6), an exchange like Start's; notifications that cross it are
// acknowledged, not delivered, and the last call carries its response
// (or its error). Without, the session forgets the observation at once
// and rejects its next notification with RST, which makes the server
// drop the registration; the last call carries ErrCanceled and comes on
// the session's timer goroutine. Cancel never calls notify itself. It
// does nothing to an observation that is ending already, and returns
// ErrClosed on a closed session, or why the deregistration could not be
// sent (the observation is then left as it was).
func (o *Observation) Cancel(deregister bool) error {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case o.state == obsEnded || o.state == obsCanceling || o.deregDue:
	case !deregister:
		s.drop(o, ErrCanceled)
	case o.state == obsRegistering:
		o.deregDue = true
	default:
		return s.deregister(o)
	}
	return nil
}

// deregister starts o's deregistration. s.mu must be held.
func (s *Session) deregister(o *Observation) error {
	d := o.reg.Clone()
	d.SetUint(Observe, 1)
	if _, _, err := s.enqueue(d, o.deregistered, false); err != nil {
		return fmt.Errorf("coap: deregister %s: %w", o.reg.Path(), err)
	}
	o.state = obsCanceling
	return nil
}

// drop ends o with err as its last call's, made on the timer
// goroutine. s.mu must be held.
func (s *Session) drop(o *Observation, err error) {
	s.unlist(o)
	o.err = err
	s.obs.forgotten = append(s.obs.forgotten, o)
	now := s.now()
	s.arm(now, now)
}

// unlist ends o: its notifications are strays from now on. s.mu must be
// held.
func (s *Session) unlist(o *Observation) {
	o.state = obsEnded
	for i, e := range s.obs.list {
		if e == o {
			s.obs.list = append(s.obs.list[:i], s.obs.list[i+1:]...)
			break
		}
	}
	if len(s.obs.list) == 0 {
		s.obs.list = nil
	}
}

// observation returns the registering, active or canceling observation
// with token tok. s.mu must be held.
func (s *Session) observation(tok []byte) *Observation {
	for _, o := range s.obs.list {
		if bytes.Equal(o.tok(), tok) {
			return o
		}
	}
	return nil
}

// registered is the registration exchange's done callback.
func (o *Observation) registered(r Result) {
	s := o.s
	s.mu.Lock()
	n, call := s.established(o, r)
	s.mu.Unlock()
	if call {
		o.notify(n)
	}
}

// established moves o on from its registration's result r, and returns
// the call to make, if any. s.mu must be held.
func (s *Session) established(o *Observation, r Result) (Notification, bool) {
	if o.state != obsRegistering {
		return Notification{}, false // forgotten, or the session was lost
	}
	n := Notification{Response: r.Response, First: true, Err: r.Err}
	var has bool
	if r.Response != nil {
		n.Observe, has = observeValue(r.Response)
	}
	switch {
	case r.Err != nil || !has || r.Response.Code.Class() != 2:
		s.unlist(o)
		n.Last = true
		return n, true
	case o.deregDue:
		o.state = obsActive
		if err := s.deregister(o); err != nil {
			s.unlist(o)
			return Notification{Last: true, Err: err}, true
		}
		return Notification{}, false
	}
	o.state, o.seq, o.at = obsActive, n.Observe, s.now()
	return n, true
}

// deregistered is the deregistration exchange's done callback.
func (o *Observation) deregistered(r Result) {
	s := o.s
	s.mu.Lock()
	if o.state != obsCanceling {
		s.mu.Unlock()
		return // the session was lost
	}
	s.unlist(o)
	s.mu.Unlock()
	n := Notification{Response: r.Response, Err: r.Err, Last: true}
	if r.Response != nil {
		n.Observe, _ = observeValue(r.Response)
	}
	o.notify(n)
}

// observeValue returns m's Observe option as a 24-bit sequence number.
func observeValue(m *Message) (uint32, bool) {
	v, ok := m.Uint(Observe)
	return v & seqMask, ok
}

// fresh reports whether a notification with sequence number v2 arriving
// at t2 is newer than the one with v1 delivered at t1 (RFC 7641 §3.4).
func fresh(v1 uint32, t1 time.Duration, v2 uint32, t2 time.Duration) bool {
	return v1 < v2 && v2-v1 < seqHalf || v1 > v2 && v1-v2 > seqHalf || t2 > t1+seqWindow
}

// onNotification handles a CON or NON response that belongs to an
// active observation, or a notification crossing a deregistration;
// false leaves m to the pending exchanges (a registration's or
// deregistration's response). s.mu must be held.
func (s *Session) onNotification(m *Message, cs *completions) bool {
	o := s.observation(m.Token)
	if o == nil || o.state == obsRegistering {
		return false
	}
	v, has := observeValue(m)
	if o.state == obsCanceling && !has {
		return false
	}
	s.ackOrReject(m, Acknowledgement)
	s.c.add(cNotifications)
	now := s.now()
	switch {
	case o.state == obsCanceling:
		// Sent before the deregistration reached the server: the caller
		// is not interested any more.
	case !has || m.Code.Class() != 2:
		s.unlist(o)
		cs.add(completion{notify: o.notify, n: Notification{Response: m, Observe: v, Last: true}})
	case !fresh(o.seq, o.at, v, now):
		s.c.add(cStale)
	default:
		o.seq, o.at = v, now
		cs.add(completion{notify: o.notify, n: Notification{Response: m, Observe: v}})
	}
	return true
}

// rejectStray handles a CON or NON response that matches nothing
// pending. A notification (it has an Observe option) is for an
// observation the session no longer has: RST tells the server to drop
// it (RFC 7641 §3.6), non-confirmable or not. Any other CON is rejected
// too (RFC 7252 §5.3.2). s.mu must be held.
func (s *Session) rejectStray(m *Message) {
	if _, ok := m.Option(Observe); ok {
		s.c.add(cUnmatched)
		s.reply(Reset, m.MessageID)
		s.saw(m.MessageID, s.out)
		return
	}
	s.stray(m, false)
	s.ackOrReject(m, Reset)
}

// endForgotten adds the last calls of the observations Cancel dropped.
// s.mu must be held.
func (s *Session) endForgotten(cs *completions) {
	for i, o := range s.obs.forgotten {
		cs.add(completion{notify: o.notify, n: Notification{Last: true, Err: o.err}})
		s.obs.forgotten[i] = nil
	}
	s.obs.forgotten = s.obs.forgotten[:0]
}

// endObservations ends every observation with err, as the session was
// lost. s.mu must be held.
func (s *Session) endObservations(err error, cs *completions) {
	for _, o := range s.obs.list {
		o.state = obsEnded
		cs.add(completion{notify: o.notify, n: Notification{Last: true, Err: err}})
	}
	s.obs.list = nil
	s.endForgotten(cs)
}

// Notify sends a notification to an observer that registered with the
// device: a server's GET with Observe 0 that Options.Handler answered
// with a 2.xx response carrying an Observe option (RFC 7641 §4). msg is
// the notification, a response code; the session sends it with token
// (the registration's), its own message id, as a confirmable message
// when confirmable, else non-confirmable. It keeps no reference to msg.
//
// The caller keeps the sequence numbers: msg's Observe option, greater
// than the last one sent for the registration (24 bits, wrapping, RFC
// 7641 §4.4); a notification without one, or other than 2.xx, ends the
// observation at the observer.
//
// A confirmable notification is retransmitted like a confirmable request
// and counts against NSTART; done gets the observer's empty ACK as
// Response, or a *ResetError when the observer rejected it (it has
// forgotten the registration: stop notifying), or a *TimeoutError (RFC
// 7641 §4.5 says to drop the observer then). A non-confirmable
// notification ends once sent, done getting an empty Result: an RST to
// it is counted as Late. Send a confirmable one now and then to learn
// that an observer left. A notification does not replace one still
// being retransmitted for the same registration (RFC 7641 §4.5.2 would):
// both go, in order, and the later sequence number wins at the observer.
// done runs as Start's does; Notify refuses as Start does, with
// ErrInvalid for a code that is not a response.
func (s *Session) Notify(token []byte, msg *Message, confirmable bool, done func(Result)) error {
	if !msg.Code.IsResponse() || len(token) > maxToken {
		return fmt.Errorf("%w: notification %v", ErrInvalid, msg)
	}
	m := *msg
	m.Token = token
	m.Type = NonConfirmable
	if confirmable {
		m.Type = Confirmable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	_, _, err := s.enqueue(&m, done, true)
	return err
}
