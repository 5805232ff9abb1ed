// Package mqtt is m2msim's MQTT 3.1.1 and MQTT 5 transport: a lean device
// Session and a Backend connection standing in for the server-side
// application.
//
// A Session costs one goroutine, the one that reads. Writes never block
// the caller: they go to the socket without waiting, and what it cannot
// take yet waits in a bounded per-session buffer that a second goroutine,
// running only while that buffer is not empty, writes out. There are no
// per-session timers: the caller schedules keepalive pings and chooses
// packet ids.
// Sessions dial through a dial.Func, so link shaping and source address
// pools compose underneath.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
)

// Subscription is a topic filter and the QoS asked for it.
type Subscription struct {
	Topic string
	QoS   byte
}

// Options configures a session. Only Addr is required.
type Options struct {
	Addr      string    // host:port of the broker
	Dial      dial.Func // nil: a plain net.Dialer
	ClientID  string
	KeepAlive time.Duration // sent in CONNECT (seconds, rounded, at least 1); 0 disables
	// CleanSession asks the broker to drop any state from earlier
	// connections with the same ClientID.
	CleanSession       bool
	Username, Password string         // omitted when empty
	Subscribe          []Subscription // subscribed after CONNACK; Connect returns after the SUBACK
	// Timeout bounds the dial, and the wait for CONNACK and for each
	// SUBACK (default 10s). A socket that takes no byte of what is waiting
	// for it for this long ends the session, and a PINGREQ unanswered for
	// longer ends it at the next Ping with ErrPingTimeout.
	Timeout time.Duration
	// SendBuffer bounds the bytes a session holds for a socket that cannot
	// take them yet (default 256 KiB): a Publish that would pass it fails
	// with a SendBufferFullError. A packet is never refused when nothing
	// is waiting, whatever its size.
	SendBuffer int
	// ProtocolVersion is V311 (4, the default) or V5 (5).
	ProtocolVersion byte
	// V5 are the MQTT 5 settings, ignored for 3.1.1.
	V5 V5Options
}

const defaultTimeout = 10 * time.Second

func (o Options) withDefaults() Options {
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = defaultSendBuffer
	}
	if o.ProtocolVersion == 0 {
		o.ProtocolVersion = V311
	}
	return o
}

func keepAliveSeconds(d time.Duration) uint16 {
	if d <= 0 {
		return 0
	}
	s := (d + time.Second/2) / time.Second
	return uint16(max(1, min(s, 0xffff)))
}

// Handler receives a session's events from its reader goroutine, one at a
// time. Methods must not block for long: the session reads nothing while
// they run. Messages queued for a persistent session can arrive right
// after CONNACK, so Message may be called before Connect returns (from
// Connect's goroutine).
type Handler interface {
	// Acked reports PUBACK (QoS 1) or PUBCOMP (QoS 2) for id.
	Acked(id uint16)
	// Message delivers an inbound PUBLISH; payload is valid only during
	// the call. A QoS 2 message is delivered once, on its first PUBLISH.
	Message(topic string, payload []byte)
	// Lost reports that the connection ended without Close. It is never
	// called after Close.
	Lost(err error)
}

// Session states.
const (
	stateOpen int32 = iota
	stateClosed
	stateLost
)

// Session is one live MQTT connection. Publish, Ping and Close are safe
// for concurrent use, and none of them blocks.
type Session struct {
	conn    net.Conn
	raw     syscall.RawConn // a *net.TCPConn's, for non-blocking writes; nil for other conns
	in      *rawReader      // a device's reads through raw; nil for other conns and a Backend
	h       Handler
	bk      *backendSide // a Backend's extensions; nil for devices
	v5      *v5State     // MQTT 5 state; nil for 3.1.1
	timeout time.Duration
	sendBuf int

	state  atomic.Int32  // stateOpen until Close (stateClosed) or the reader (stateLost) ends it
	inCall atomic.Bool   // the reader goroutine is inside a Handler method
	pingAt atomic.Int64  // when the oldest unanswered PINGREQ was sent (UnixNano); 0 for none
	done   chan struct{} // closed when the reader goroutine (and any flusher) has exited

	wmu  sync.Mutex // guards werr and bl, and serialises writes to conn
	werr error      // once set, writes fail with it; it is also why the connection ended
	bl   *backlog   // what the socket could not take yet; nil when nothing waits

	// Owned by the reading goroutine.
	rd   reader
	acks *[]byte   // acknowledgements held while more packets are buffered, from outPool
	qos2 *[]uint16 // inbound QoS 2 ids between PUBREC and PUBREL; nil until the first
}

// backendSide is what a Backend's connection adds to a session: SUBACKs
// after the handshake, messages with their arrival times, shared
// subscriptions.
type backendSide struct {
	onSuback  func(id uint16, codes []byte)
	onMessage func(topic, payload []byte, arrived time.Time) // topic and payload alias the read buffer
	prefix    string                                         // prepended to every filter subscribed
	in        arrivalReader                                  // reads conn; set by connect
}

// Connect dials o.Addr, sends CONNECT, waits for CONNACK and for the
// SUBACK of o.Subscribe, and starts the session's reader goroutine. A
// refused CONNECT returns a ConnackError (MQTT 5: a ReasonCodeError), a
// refused subscription a SubackError, unexpected bytes a ProtocolError.
func Connect(ctx context.Context, o Options, h Handler) (*Session, error) {
	return connect(ctx, o, h, nil)
}

func connect(ctx context.Context, o Options, h Handler, bk *backendSide) (*Session, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	if h == nil {
		h = nopHandler{}
	}
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	conn, err := o.Dial(dctx, "tcp", o.Addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("mqtt: dial %s: %w", o.Addr, err)
	}
	s := &Session{conn: conn, raw: rawConn(conn), h: h, bk: bk, timeout: o.Timeout,
		sendBuf: o.SendBuffer, done: make(chan struct{})}
	if bk == nil {
		s.in = newRawReader(s.raw)
	}
	if o.ProtocolVersion == V5 {
		s.v5 = newV5State(&o.V5)
	}
	if bk != nil {
		bk.in = newArrivalReader(conn)
		s.rd.big = true
	}
	if err := s.handshake(ctx, &o); err != nil {
		s.abort()
		return nil, fmt.Errorf("mqtt: connect to %s: %w", o.Addr, err)
	}
	// A fresh goroutine, so the reader does not keep the stack the dial
	// and handshake grew.
	go s.readLoop()
	return s, nil
}

// aLongTimeAgo is a deadline that has passed, to abort blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// handshake runs exchange within ctx, each answer awaited for at most
// Options.Timeout: a backend subscribing 100,000 filters awaits a hundred
// SUBACKs, which one Timeout for all could not cover.
func (s *Session) handshake(ctx context.Context, o *Options) (err error) {
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(aLongTimeAgo) })
	err = s.exchange(ctx, o)
	if !stop() || (err != nil && ctx.Err() != nil) {
		return ctx.Err() // the conn's deadlines may be spoilt; report why
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The conn's deadline is ctx's or Timeout's, and can fire before
		// ctx notices.
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	if err != nil {
		return err
	}
	return s.conn.SetReadDeadline(time.Time{})
}

// abort ends a session whose handshake failed, once its flusher is done.
func (s *Session) abort() {
	s.shut()
	s.rd.release()
	s.dropAcks()
}

// shut ends writing (later writes fail with ErrClosed unless one failed
// already), closes the conn and waits for the flusher, which the closed
// conn ends at once. It returns why writing had ended before, if it had.
func (s *Session) shut() (cause error) {
	s.wmu.Lock()
	cause = s.werr
	if s.werr == nil {
		s.werr = ErrClosed
	}
	bl := s.bl
	s.wmu.Unlock()
	s.conn.Close()
	if bl != nil {
		<-bl.done
	}
	return cause
}

// await arms the read deadline for the next answer: Options.Timeout from
// now, or ctx's deadline if sooner.
func (s *Session) await(ctx context.Context) error {
	dl := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	if err := s.conn.SetReadDeadline(dl); err != nil {
		return err
	}
	return ctx.Err() // ctx may have ended, and its AfterFunc run, before the line above
}

// exchange sends CONNECT and SUBSCRIBE and reads up to their acks,
// handling whatever else the broker sends in between.
func (s *Session) exchange(ctx context.Context, o *Options) error {
	if err := s.await(ctx); err != nil {
		return err
	}
	connectPk := connectPacket
	if s.v5 != nil {
		connectPk = connectPacket5
	}
	if err := s.write(connectPk(o), false); err != nil {
		return err
	}
	p, err := s.readPacket()
	if err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if p.typ != typeConnack {
		return protoErr(p.typ, "got %s, want CONNACK", packetName(p.typ))
	}
	if p.code != 0 && s.v5 != nil {
		return ReasonCodeError{Packet: typeConnack, Code: p.code, Reason: string(p.props.reason)}
	}
	if p.code != 0 {
		return ConnackError{Code: p.code}
	}
	if s.v5 != nil {
		s.v5.connack(&p.props)
	}
	prefix := ""
	if s.bk != nil {
		prefix = s.bk.prefix
	}
	// Packet ids 1, 2, ...: nothing else is in flight yet.
	for id, subs := uint16(1), o.Subscribe; len(subs) > 0; id++ {
		n := subscribeBatch(subs, prefix)
		if err := s.await(ctx); err != nil {
			return err
		}
		if err := s.subscribeAwait(id, subs[:n], prefix); err != nil {
			return err
		}
		subs = subs[n:]
	}
	return nil
}

// subscribeAwait sends one SUBSCRIBE and reads up to its SUBACK.
func (s *Session) subscribeAwait(id uint16, subs []Subscription, prefix string) error {
	if err := s.write(s.subscribePacket(id, subs, prefix), false); err != nil {
		return err
	}
	for {
		p, err := s.readPacket()
		if err != nil {
			return fmt.Errorf("read SUBACK: %w", err)
		}
		if p.typ == typeSuback {
			return checkSuback(p, id, subs, s.v5 != nil)
		}
		if err := s.dispatch(&p); err != nil {
			return err
		}
	}
}

func checkSuback(p packet, id uint16, subs []Subscription, v5 bool) error {
	if p.id != id {
		return protoErr(p.typ, "packet id %d, want %d", p.id, id)
	}
	if len(p.codes) != len(subs) {
		return protoErr(p.typ, "%d return codes for %d subscriptions", len(p.codes), len(subs))
	}
	for i, c := range p.codes {
		if c >= 0x80 {
			return SubackError{Topic: subs[i].Topic, Code: c, v5: v5}
		}
	}
	return nil
}

func (s *Session) readPacket() (packet, error) {
	first, body, err := s.next()
	if err != nil {
		return packet{}, err
	}
	return s.decode(first, body)
}

// next frames the next inbound packet. Before it may block reading, it
// sends the acknowledgements held back while packets were buffered, all
// in one write.
//
// Acknowledgements are never held past that: a broker that leaves Nagle's
// algorithm on (Mosquitto's default) sends its next small message only
// once its last is acknowledged at the TCP level, which an application
// write carries at once, so a subscriber that held them back would make
// the broker's deliveries late (by 0.75 ms at the median, measured).
func (s *Session) next() (first byte, body []byte, err error) {
	if !s.rd.ready() {
		if err := s.flushAcks(); err != nil {
			return 0, nil, err
		}
	}
	if s.bk != nil {
		return s.rd.next(s.bk.in)
	}
	if s.in != nil {
		return s.rd.next(s.in)
	}
	return s.rd.next(s.conn)
}

// readLoop is the session's one goroutine. It exits when the connection
// fails or Close closes it. Its frames are kept shallow on purpose: the
// stack it has while blocked in Read is what every idle device costs, and
// below about 1 KiB of frames it stays at the 2 KiB minimum.
func (s *Session) readLoop() {
	var err error
	for s.state.Load() == stateOpen {
		first, body, rerr := s.next()
		if rerr != nil {
			err = rerr
			break
		}
		if err = s.handle(first, body); err != nil {
			break
		}
	}
	s.rd.release()
	s.dropAcks()
	s.finish(err)
	close(s.done)
}

// handle decodes and dispatches one packet.
func (s *Session) handle(first byte, body []byte) error {
	p, err := s.decode(first, body)
	if err != nil {
		return err
	}
	return s.dispatch(&p)
}

// finish ends the connection after the reader stopped, waits for the
// flusher, and reports Lost unless Close got there first.
func (s *Session) finish(err error) {
	cause := s.shut()
	if !s.state.CompareAndSwap(stateOpen, stateLost) {
		return
	}
	if cause == nil {
		cause = fmt.Errorf("mqtt: connection lost: %w", err)
	}
	s.inCall.Store(true)
	s.h.Lost(cause)
	s.inCall.Store(false)
}

// dispatch acts on one inbound packet.
func (s *Session) dispatch(p *packet) error {
	switch p.typ {
	case typePublish:
		if s.v5 != nil {
			if err := s.resolveAlias(p); err != nil {
				return err
			}
		}
		return s.onPublish(p)
	case typePuback, typePubcomp:
		if s.v5 != nil {
			return s.acked5(p)
		}
		s.inCall.Store(true)
		s.h.Acked(p.id)
		s.inCall.Store(false)
	case typePubrec:
		if s.v5 != nil && p.code >= 0x80 {
			return s.acked5(p) // refused: no PUBREL follows
		}
		return s.ack(typePubrel, p.id)
	case typePubrel:
		s.forgetQoS2(p.id)
		return s.ack(typePubcomp, p.id)
	case typePingresp:
		s.pingAt.Store(0)
	case typeDisconnect:
		return s.disconnected(p)
	case typeUnsuback:
		if s.v5 == nil {
			return protoErr(p.typ, "unexpected after CONNACK")
		}
		return nil // m2msim never unsubscribes; a stray one is harmless
	case typeSuback:
		if s.bk == nil {
			return protoErr(p.typ, "no subscription pending")
		}
		s.bk.onSuback(p.id, p.codes)
	default:
		return protoErr(p.typ, "unexpected after CONNACK")
	}
	return nil
}

func (s *Session) onPublish(p *packet) error {
	switch p.qos() {
	case 1:
		s.deliver(p)
		return s.ack(typePuback, p.id)
	case 2:
		if !s.pendingQoS2(p.id) {
			if s.qos2 == nil {
				s.qos2 = new([]uint16)
			}
			*s.qos2 = append(*s.qos2, p.id)
			s.deliver(p)
		}
		return s.ack(typePubrec, p.id)
	}
	s.deliver(p)
	return nil
}

func (s *Session) deliver(p *packet) {
	s.inCall.Store(true)
	if s.bk != nil {
		s.bk.onMessage(p.topic, p.payload, s.bk.in.arrived())
	} else {
		s.h.Message(string(p.topic), p.payload)
	}
	s.inCall.Store(false)
}

// ackBatch is how many bytes of acknowledgements (4 each) the reader holds
// before it writes them even though more packets are buffered.
const ackBatch = poolBuf

// ack holds an acknowledgement back while more packets are buffered, so a
// burst read at once is acknowledged with one write.
func (s *Session) ack(typ byte, id uint16) error {
	if s.acks == nil {
		s.acks = outPool.Get().(*[]byte)
	}
	a := ackPacket(typ, id)
	*s.acks = append(*s.acks, a[:]...)
	if len(*s.acks) >= ackBatch {
		return s.flushAcks()
	}
	return nil
}

// flushAcks writes the acknowledgements held back, without blocking.
func (s *Session) flushAcks() error {
	if s.acks == nil {
		return nil
	}
	err := s.write(*s.acks, false)
	s.dropAcks()
	return err
}

func (s *Session) dropAcks() {
	if s.acks != nil {
		putBuf(s.acks)
		s.acks = nil
	}
}

func (s *Session) pendingQoS2(id uint16) bool {
	return s.qos2 != nil && slices.Contains(*s.qos2, id)
}

func (s *Session) forgetQoS2(id uint16) {
	if s.qos2 == nil {
		return
	}
	q := *s.qos2
	if i := slices.Index(q, id); i >= 0 {
		q[i] = q[len(q)-1]
		*s.qos2 = q[:len(q)-1]
	}
}

// Publish sends a PUBLISH. For QoS 1 and 2, id must be non-zero and unique
// among the session's unacknowledged messages; Handler.Acked(id) follows.
// It never blocks: what the socket cannot take at once waits in the
// session's send buffer, and when that is full, Publish fails with a
// SendBufferFullError and writes nothing.
func (s *Session) Publish(id uint16, topic string, payload []byte, qos byte, retain bool) error {
	if s.v5 != nil {
		return s.publish5(id, topic, payload, qos, retain)
	}
	if err := checkPublish(id, topic, payload, qos); err != nil {
		return err
	}
	bp := outPool.Get().(*[]byte)
	*bp = appendPublish(*bp, id, topic, payload, qos, retain)
	err := s.write(*bp, true)
	putBuf(bp)
	return err
}

// Ping sends a PINGREQ. When the previous one has gone unanswered for
// longer than Options.Timeout, it ends the session instead and returns
// ErrPingTimeout (Handler.Lost follows).
func (s *Session) Ping() error {
	now := time.Now().UnixNano()
	if at := s.pingAt.Load(); at != 0 && now-at > int64(s.timeout) {
		s.fail(ErrPingTimeout)
		return ErrPingTimeout
	}
	s.pingAt.CompareAndSwap(0, now)
	return s.write(pingreqPacket[:], false)
}

// subscribe sends SUBSCRIBE; the SUBACK goes to onSuback.
func (s *Session) subscribe(id uint16, subs []Subscription) error {
	return s.write(s.subscribePacket(id, subs, s.bk.prefix), false)
}

// write sends b without blocking (see sendLocked).
func (s *Session) write(b []byte, limited bool) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.sendLocked(b, limited)
}

// fail ends the connection for err; the reader reports it through Lost.
func (s *Session) fail(err error) {
	s.wmu.Lock()
	if s.werr == nil {
		s.werr = err
	}
	s.wmu.Unlock()
	s.conn.Close()
}

// Close sends DISCONNECT if the socket takes it at once, and closes the
// connection, dropping whatever was still waiting to be sent. It is
// idempotent and returns after the session's goroutines have exited,
// except when called from a Handler method (or while one runs), when it
// returns at once and no further Handler method starts. Handler.Lost is
// never called after Close.
func (s *Session) Close() error {
	var err error
	if s.state.CompareAndSwap(stateOpen, stateClosed) {
		s.wmu.Lock()
		if s.werr == nil {
			if s.bl == nil {
				s.tryWrite(disconnectPacket[:]) // best effort: we are leaving anyway
			}
			s.werr = ErrClosed
		}
		s.wmu.Unlock()
		if err = s.conn.Close(); errors.Is(err, net.ErrClosed) {
			err = nil // the reader closed it first
		}
	}
	if !s.inCall.Load() {
		<-s.done
	}
	return err
}

type nopHandler struct{}

func (nopHandler) Acked(uint16)           {}
func (nopHandler) Message(string, []byte) {}
func (nopHandler) Lost(error)             {}
