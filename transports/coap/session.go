package coap

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
)

// Options configures a session. Only Addr is required; the transmission
// parameters default to RFC 7252 §4.8's, from withDefaults.
type Options struct {
	Addr string    // host:port of the server
	Dial dial.Func // dialed with network "udp"; nil: a plain net.Dialer
	// DialTimeout bounds the dial (default 10s); a DTLS handshake has its
	// own bound, DTLS.HandshakeTimeout.
	DialTimeout time.Duration
	// DTLS, when set, secures the session: Dial runs a DTLS 1.2
	// handshake over the dialed socket (coaps); nil: plain CoAP.
	DTLS *DTLS

	// AckTimeout (ACK_TIMEOUT, 2s) and AckRandomFactor
	// (ACK_RANDOM_FACTOR, 1.5, at least 1) set a confirmable request's
	// first retransmission timeout, drawn uniformly from [AckTimeout,
	// AckTimeout*AckRandomFactor) and doubled at each retransmission.
	AckTimeout      time.Duration
	AckRandomFactor float64
	// MaxRetransmit (MAX_RETRANSMIT) is how often a confirmable request
	// is sent again before its exchange times out: 0 means the default,
	// 4; a negative value, never.
	MaxRetransmit int
	// NStart (NSTART, 1) bounds the outstanding interactions (RFC 7252
	// §4.7): confirmable requests not yet acknowledged and
	// non-confirmable ones not yet answered. Further requests wait in a
	// queue of at most QueueLimit (default 64), then are refused with a
	// *QueueFullError.
	NStart     int
	QueueLimit int
	// ResponseTimeout bounds the wait for a response after an empty ACK
	// (a separate response) and for the response to a non-confirmable
	// request. The default is MAX_TRANSMIT_WAIT, AckTimeout *
	// (2^(MaxRetransmit+1) - 1) * AckRandomFactor: 93s.
	ResponseTimeout time.Duration
	// ExchangeLifetime (EXCHANGE_LIFETIME) is how long a message id stays
	// taken after use. The default is RFC 7252's MAX_TRANSMIT_SPAN +
	// 2*MAX_LATENCY + PROCESSING_DELAY with MAX_LATENCY 100s and
	// PROCESSING_DELAY AckTimeout: 247s with the default parameters. A
	// message is refused with a *MessageIDError rather than reuse an id
	// within it. Negative: ids are reused freely (for a responder that
	// keeps no duplicate cache).
	ExchangeLifetime time.Duration
	// MaxMessageSize bounds the datagrams read (default 1152, RFC 7252
	// §4.6); longer ones are dropped and counted as Malformed.
	MaxMessageSize int

	// Seed and Stream seed the session's random numbers (initial message
	// id, tokens, retransmission timeouts): rand.NewPCG(Seed, Stream).
	// Give each device its own Stream (its index) so runs repeat.
	Seed, Stream uint64

	// Counters receives the session's counts; nil: the session keeps
	// its own (Session.Stats).
	Counters *Counters
	// Handler answers the requests the server sends the device (LwM2M's
	// device management); nil rejects confirmable ones with RST and drops
	// non-confirmable ones.
	Handler HandlerFunc
	// Lost is called once if the session ends without Close (the socket
	// failed); nil: not reported.
	Lost func(err error)
	// OnFrame is called for each datagram the session sends on its own,
	// with its size before DTLS, so that a caller modelling the device's
	// radio can charge its airtime: a confirmable message sent again
	// (retransmit true), or an empty ACK or RST, or a response, to a
	// message of the server's (sent again for the server's duplicates).
	// Not for a request's first transmission, which its caller knows of.
	// It runs with the session's lock held: it must not block or call
	// the session. Nil: not reported.
	OnFrame func(size int, retransmit bool)
}

// HandlerFunc answers a request the server sent. It runs on the
// session's reader goroutine, like a done callback, and must not block;
// req is valid only during the call. The session fills in the
// response's type, message id and token: piggybacked on the ACK for a
// confirmable request, a non-confirmable response for a non-confirmable
// one. nil acknowledges a confirmable request without a response.
type HandlerFunc func(req *Message) *Message

// The RFC 7252 §4.8 defaults.
const (
	DefaultAckTimeout      = 2 * time.Second
	DefaultAckRandomFactor = 1.5
	DefaultMaxRetransmit   = 4
	DefaultNStart          = 1
	DefaultMaxMessageSize  = 1152
	defaultQueueLimit      = 64
	defaultDialTimeout     = 10 * time.Second
	maxLatency             = 100 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.AckRandomFactor < 1 {
		o.AckRandomFactor = DefaultAckRandomFactor
	}
	switch {
	case o.MaxRetransmit == 0:
		o.MaxRetransmit = DefaultMaxRetransmit
	case o.MaxRetransmit < 0:
		o.MaxRetransmit = 0
	}
	if o.NStart <= 0 {
		o.NStart = DefaultNStart
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = defaultQueueLimit
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = o.span(o.MaxRetransmit + 1)
	}
	if o.ExchangeLifetime == 0 {
		o.ExchangeLifetime = o.span(o.MaxRetransmit) + 2*maxLatency + o.AckTimeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.Counters == nil {
		o.Counters = new(Counters)
	}
	return o
}

// span is AckTimeout * (2^n - 1) * AckRandomFactor: MAX_TRANSMIT_SPAN
// for n = MaxRetransmit, MAX_TRANSMIT_WAIT for n = MaxRetransmit+1.
func (o *Options) span(n int) time.Duration {
	return time.Duration(float64(o.AckTimeout) * float64(int64(1)<<n-1) * o.AckRandomFactor)
}

// Result is how an exchange ended, given to the done callback of Start.
type Result struct {
	// Response is the response, the RST that answered a ping, or the
	// empty ACK of a confirmable notification (Notify); nil
	// when Err is set, and for a non-confirmable request sent with a
	// No-Response option that suppresses every answer. It and its
	// slices are valid only during the callback (Clone keeps it).
	Response *Message
	// Err is why the exchange failed: a *TimeoutError, a *ResetError,
	// ErrClosed-like errors when the socket failed, or the error of
	// sending a request that had waited in the queue.
	Err error
	// Transmissions is how often the request was sent: 1 plus its
	// retransmissions.
	Transmissions int
	// Separate reports a confirmable request answered in a separate
	// message (after an empty ACK, or instead of the ACK).
	Separate bool
	// Sent is when the request was first sent, after any wait in the
	// queue; zero if it never was.
	Sent time.Time
}

// Session is one device's CoAP endpoint: one socket to one server, with
// RFC 7252's message layer on top (retransmission, duplicate detection,
// NSTART). It is safe for concurrent use; no method blocks, except Do
// and Ping, which wait for their exchange, and Close.
type Session struct {
	conn      net.Conn
	o         Options // with defaults
	c         *Counters
	epoch     time.Time
	handshake *DTLSHandshake // nil without DTLS
	closing   chan struct{}  // closed once the session has ended (Close or loss)
	done      chan struct{}  // closed when the reader goroutine has exited

	userClosed atomic.Bool // Close was called: no callback starts any more
	inCall     atomic.Bool // a callback is running

	cbmu sync.Mutex // serialises the callbacks (done, Handler, Lost); taken before mu, never inside it

	mu             sync.Mutex // guards the fields below, and serialises writes to conn
	closed         bool       // the session has ended: nothing more is sent
	pending        []*exchange
	queue          []*exchange
	outstanding    int // pending exchanges counting against NStart
	seq            uint64
	nextMID        uint16
	nextToken      uint32
	rng            *rand.Rand
	ids            idWindow
	timer          *time.Timer
	armed          time.Duration // when the timer fires (since epoch); 0: not armed
	issued         uint64        // message ids taken, ever
	unanswered     [4]unanswered // the last exchanges that ended without an answer
	unansweredNext int
	seen           *seenRing // server messages received lately; nil until the first
	out            []byte    // scratch for what the session sends of its own
	spare          *exchange // an ended exchange, reused by the next request
	obs            observations

	// Owned by the reader goroutine.
	buf []byte
	in  Message
}

// Dial opens the session's socket: one UDP socket per device, as a
// server knows a device by its address and port. Dial works over any
// conn o.Dial returns that keeps datagram boundaries (a shaped UDP conn,
// a DTLS conn). With o.DTLS it runs a DTLS handshake over that socket
// first; a failed one is a *HandshakeError. It starts the session's one
// goroutine, its reader.
func Dial(ctx context.Context, o Options) (*Session, error) {
	o = o.withDefaults()
	if o.DTLS != nil {
		if err := o.DTLS.Validate(); err != nil {
			return nil, err
		}
	}
	dctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	conn, err := o.Dial(dctx, "udp", o.Addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("coap: dial %s: %w", o.Addr, err)
	}
	var hs *DTLSHandshake
	if o.DTLS != nil {
		if conn, hs, err = o.DTLS.handshake(ctx, conn, o.Addr); err != nil {
			return nil, err
		}
	}
	s := newSession(conn, o)
	s.handshake = hs
	go s.readLoop()
	return s, nil
}

func newSession(conn net.Conn, o Options) *Session {
	s := &Session{conn: conn, o: o, c: o.Counters, epoch: time.Now(),
		closing: make(chan struct{}), done: make(chan struct{}),
		rng: rand.New(rand.NewPCG(o.Seed, o.Stream)), buf: make([]byte, o.MaxMessageSize+1)}
	s.nextMID = uint16(s.rng.Uint32())
	s.nextToken = s.rng.Uint32()
	return s
}

// LocalAddr returns the session's local address, by which the server
// knows the device.
func (s *Session) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// DTLSHandshake returns how long the session's DTLS handshake took and
// whether it resumed a session; false for a session without DTLS.
func (s *Session) DTLSHandshake() (DTLSHandshake, bool) {
	if s.handshake == nil {
		return DTLSHandshake{}, false
	}
	return *s.handshake, true
}

// Stats returns the counts of the session's Counters (shared with other
// sessions when Options.Counters was given).
func (s *Session) Stats() Stats { return s.c.Snapshot() }

// Start sends req and calls done once with how its exchange ended,
// unless the session is closed first: confirmable requests are
// retransmitted per RFC 7252 §4.2, and beyond NStart outstanding ones
// requests wait in the queue. A confirmable empty message (code 0.00) is
// a ping, answered by RST. Start never blocks and never calls done
// itself: done runs later on the session's reader goroutine (answers) or
// its timer goroutine (timeouts), one callback at a time, and must not
// block. The session fills in the message id and, when req has none, a
// token; it keeps no reference to req. When the request cannot go,
// Start returns why (ErrInvalid, ErrClosed, a *QueueFullError, a
// *MessageIDError, a *FormatError, or the socket's error) and done is
// not called.
func (s *Session) Start(req *Message, done func(Result)) error {
	_, _, err := s.start(req, done)
	return err
}

// Do sends req and waits for its response: Start, then the wait, which
// ctx bounds. On ctx's end the exchange is abandoned (no more
// retransmissions; a late answer is counted as Late). The response is
// the caller's. An error response (4.04) is a response, not an error.
func (s *Session) Do(ctx context.Context, req *Message) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type answer struct {
		m   *Message
		err error
	}
	ch := make(chan answer, 1)
	ex, seq, err := s.start(req, func(r Result) {
		var m *Message
		if r.Response != nil {
			m = r.Response.Clone()
		}
		ch <- answer{m, r.Err}
	})
	if err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a.m, a.err
	case <-ctx.Done():
		if s.cancel(ex, seq) {
			return nil, ctx.Err()
		}
	case <-s.closing:
	}
	select { // the exchange had ended: its callback is due
	case a := <-ch:
		return a.m, a.err
	case <-s.closing:
		return nil, ErrClosed
	}
}

// Ping sends a CoAP ping (an empty confirmable message) and waits for the
// server's RST, retransmitting as for any confirmable request.
func (s *Session) Ping(ctx context.Context) error {
	_, err := s.Do(ctx, &Message{Type: Confirmable, Code: Empty})
	return err
}

// Close ends the session: pending exchanges are dropped without their
// callbacks, and no callback starts after Close. It returns once the
// reader goroutine has exited, except when called from a callback (or
// while one runs), when it returns at once. Close is idempotent.
func (s *Session) Close() error {
	if !s.userClosed.CompareAndSwap(false, true) {
		return nil
	}
	s.mu.Lock()
	wasClosed := s.closed
	s.end()
	s.mu.Unlock()
	if !wasClosed {
		close(s.closing)
	}
	err := s.conn.Close()
	if wasClosed {
		err = nil // the reader closed it already
	}
	if !s.inCall.Load() {
		s.cbmu.Lock() // wait for a callback in progress
		s.cbmu.Unlock()
		<-s.done
	}
	return err
}

// end marks the session closed, stops its timer and forgets its
// exchanges, returning them. s.mu must be held.
func (s *Session) end() []*exchange {
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	all := append(s.pending, s.queue...)
	s.pending, s.queue, s.outstanding = nil, nil, 0
	return all
}

// lost ends the session after the socket failed: every exchange gets err,
// then Options.Lost.
func (s *Session) lost(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	all := s.end()
	err = fmt.Errorf("coap: session lost: %w", err)
	var cs completions
	s.endObservations(err, &cs)
	s.mu.Unlock()
	for _, ex := range all {
		s.complete(completion{done: ex.done, res: Result{Err: err, Transmissions: ex.sends, Sent: ex.sent}})
	}
	cs.run(s)
	if s.o.Lost != nil {
		s.cbmu.Lock()
		if !s.userClosed.Load() {
			s.inCall.Store(true)
			s.o.Lost(err)
			s.inCall.Store(false)
		}
		s.cbmu.Unlock()
	}
	close(s.closing)
	s.conn.Close()
}

// completion is a done callback with its result, or an Observe callback
// with its notification, called once the session's mutex is released.
type completion struct {
	done   func(Result)
	res    Result
	notify func(Notification)
	n      Notification
}

// complete runs one callback, unless Close was called.
func (s *Session) complete(c completion) {
	if c.done == nil && c.notify == nil {
		return
	}
	s.cbmu.Lock()
	if !s.userClosed.Load() {
		s.inCall.Store(true)
		if c.notify != nil {
			c.notify(c.n)
		} else {
			c.done(c.res)
		}
		s.inCall.Store(false)
	}
	s.cbmu.Unlock()
}

// completions collects the callbacks due while s.mu is held, without
// allocating for the usual one or two (a slice into its own array would
// make it escape).
type completions struct {
	first [2]completion
	n     int
	more  []completion
}

func (cs *completions) add(c completion) {
	if cs.n < len(cs.first) {
		cs.first[cs.n] = c
		cs.n++
		return
	}
	cs.more = append(cs.more, c)
}

// run calls them; s.mu must not be held.
func (cs *completions) run(s *Session) {
	for _, c := range cs.first[:cs.n] {
		s.complete(c)
	}
	for _, c := range cs.more {
		s.complete(c)
	}
}
