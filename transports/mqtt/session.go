// Package mqtt is m2msim's MQTT 3.1.1 transport: a lean device Session and
// a Backend connection standing in for the server-side application.
//
// A Session costs one goroutine, the one that reads; writes happen on the
// caller's goroutine under a per-session mutex. There are no per-session
// timers: the caller schedules keepalive pings and chooses packet ids.
// Sessions dial through a dial.Func, so link shaping and source address
// pools compose underneath.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
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
	// Timeout bounds dial + CONNACK + SUBACK (default 10s). It also bounds
	// every later write, and how long a PINGREQ may go unanswered before
	// the next Ping ends the session with ErrPingTimeout.
	Timeout time.Duration
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
// for concurrent use.
type Session struct {
	conn     net.Conn
	h        Handler
	timeout  time.Duration
	onSuback func(id uint16, codes []byte) // Backend's SUBACKs after the handshake; nil for devices

	state  atomic.Int32  // stateOpen until Close (stateClosed) or the reader (stateLost) ends it
	inCall atomic.Bool   // the reader goroutine is inside a Handler method
	pingAt atomic.Int64  // when the oldest unanswered PINGREQ was sent (UnixNano); 0 for none
	done   chan struct{} // closed when the reader goroutine exits

	wmu      sync.Mutex // guards werr and deadline, and serialises writes to conn
	werr     error      // once set, writes fail with it; it is also why the connection ended
	deadline int64      // write deadline armed on conn (UnixNano)

	// Owned by the reading goroutine.
	rd   reader
	qos2 []uint16 // inbound QoS 2 ids between PUBREC and PUBREL
}

// hooks are the Backend's extensions to a session.
type hooks struct {
	onSuback func(id uint16, codes []byte)
	keepBuf  bool
}

// Connect dials o.Addr, sends CONNECT, waits for CONNACK and for the
// SUBACK of o.Subscribe, and starts the session's reader goroutine. A
// refused CONNECT returns a ConnackError, a refused subscription a
// SubackError, unexpected bytes a ProtocolError.
func Connect(ctx context.Context, o Options, h Handler) (*Session, error) {
	return connect(ctx, o, h, hooks{})
}

func connect(ctx context.Context, o Options, h Handler, hk hooks) (*Session, error) {
	o = o.withDefaults()
	if err := checkSubscriptions(o.Subscribe); err != nil {
		return nil, err
	}
	if h == nil {
		h = nopHandler{}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	conn, err := o.Dial(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: dial %s: %w", o.Addr, err)
	}
	s := &Session{conn: conn, h: h, timeout: o.Timeout, onSuback: hk.onSuback, done: make(chan struct{})}
	s.rd.keep = hk.keepBuf
	if err := s.handshake(ctx, &o); err != nil {
		conn.Close()
		s.rd.release()
		return nil, fmt.Errorf("mqtt: connect to %s: %w", o.Addr, err)
	}
	// A fresh goroutine, so the reader does not keep the stack the dial
	// and handshake grew.
	go s.readLoop()
	return s, nil
}

// aLongTimeAgo is a deadline that has passed, to abort blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

func (s *Session) handshake(ctx context.Context, o *Options) (err error) {
	dl, _ := ctx.Deadline()
	if err := s.conn.SetReadDeadline(dl); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(aLongTimeAgo) })
	err = s.exchange(o)
	if !stop() || (err != nil && ctx.Err() != nil) {
		return ctx.Err() // the conn's deadlines may be spoilt; report why
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The conn's deadline is ctx's, and can fire before ctx notices.
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	if err != nil {
		return err
	}
	return s.conn.SetReadDeadline(time.Time{})
}

// exchange sends CONNECT and SUBSCRIBE and reads up to their acks,
// handling whatever else the broker sends in between.
func (s *Session) exchange(o *Options) error {
	if err := s.write(connectPacket(o)); err != nil {
		return err
	}
	p, err := s.readPacket()
	if err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if p.typ != typeConnack {
		return protoErr(p.typ, "got %s, want CONNACK", packetName(p.typ))
	}
	if p.code != 0 {
		return ConnackError{Code: p.code}
	}
	if len(o.Subscribe) == 0 {
		return nil
	}
	const subID = 1
	if err := s.write(subscribePacket(subID, o.Subscribe)); err != nil {
		return err
	}
	for {
		p, err := s.readPacket()
		if err != nil {
			return fmt.Errorf("read SUBACK: %w", err)
		}
		if p.typ == typeSuback {
			return checkSuback(p, subID, o.Subscribe)
		}
		if err := s.dispatch(&p); err != nil {
			return err
		}
	}
}

func checkSuback(p packet, id uint16, subs []Subscription) error {
	if p.id != id {
		return protoErr(p.typ, "packet id %d, want %d", p.id, id)
	}
	if len(p.codes) != len(subs) {
		return protoErr(p.typ, "%d return codes for %d subscriptions", len(p.codes), len(subs))
	}
	for i, c := range p.codes {
		if c == 0x80 {
			return SubackError{Topic: subs[i].Topic}
		}
	}
	return nil
}

func (s *Session) readPacket() (packet, error) {
	first, body, err := s.rd.next(s.conn)
	if err != nil {
		return packet{}, err
	}
	return decode(first, body)
}

// readLoop is the session's one goroutine. It exits when the connection
// fails or Close closes it. Its frames are kept shallow on purpose: the
// stack it has while blocked in Read is what every idle device costs, and
// below about 1 KiB of frames it stays at the 2 KiB minimum.
func (s *Session) readLoop() {
	var err error
	for s.state.Load() == stateOpen {
		first, body, rerr := s.rd.next(s.conn)
		if rerr != nil {
			err = rerr
			break
		}
		if err = s.handle(first, body); err != nil {
			break
		}
	}
	s.rd.release()
	s.finish(err)
	close(s.done)
}

// handle decodes and dispatches one packet.
func (s *Session) handle(first byte, body []byte) error {
	p, err := decode(first, body)
	if err != nil {
		return err
	}
	return s.dispatch(&p)
}

// finish ends the connection after the reader stopped and reports Lost
// unless Close got there first.
func (s *Session) finish(err error) {
	s.wmu.Lock()
	cause := s.werr
	if s.werr == nil {
		s.werr = ErrClosed
	}
	s.wmu.Unlock()
	s.conn.Close()
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
		return s.onPublish(p)
	case typePuback, typePubcomp:
		s.inCall.Store(true)
		s.h.Acked(p.id)
		s.inCall.Store(false)
	case typePubrec:
		return s.writeAck(typePubrel, p.id)
	case typePubrel:
		s.forgetQoS2(p.id)
		return s.writeAck(typePubcomp, p.id)
	case typePingresp:
		s.pingAt.Store(0)
	case typeDisconnect:
		return ErrServerDisconnect
	case typeSuback:
		if s.onSuback == nil {
			return protoErr(p.typ, "no subscription pending")
		}
		s.onSuback(p.id, p.codes)
	default:
		return protoErr(p.typ, "unexpected after CONNACK")
	}
	return nil
}

func (s *Session) onPublish(p *packet) error {
	switch p.qos() {
	case 1:
		s.deliver(p)
		return s.writeAck(typePuback, p.id)
	case 2:
		if !s.pendingQoS2(p.id) {
			s.qos2 = append(s.qos2, p.id)
			s.deliver(p)
		}
		return s.writeAck(typePubrec, p.id)
	}
	s.deliver(p)
	return nil
}

func (s *Session) deliver(p *packet) {
	s.inCall.Store(true)
	s.h.Message(string(p.topic), p.payload)
	s.inCall.Store(false)
}

func (s *Session) pendingQoS2(id uint16) bool {
	for _, v := range s.qos2 {
		if v == id {
			return true
		}
	}
	return false
}

func (s *Session) forgetQoS2(id uint16) {
	for i, v := range s.qos2 {
		if v == id {
			s.qos2[i] = s.qos2[len(s.qos2)-1]
			s.qos2 = s.qos2[:len(s.qos2)-1]
			return
		}
	}
}

// maxPooledWrite caps the write buffers returned to the pool, so one huge
// payload does not pin a huge buffer.
const maxPooledWrite = 64 << 10

// Publish sends a PUBLISH. For QoS 1 and 2, id must be non-zero and unique
// among the session's unacknowledged messages; Handler.Acked(id) follows.
func (s *Session) Publish(id uint16, topic string, payload []byte, qos byte, retain bool) error {
	if err := checkPublish(id, topic, payload, qos); err != nil {
		return err
	}
	bp := bufPool.Get().(*[]byte)
	b := appendPublish((*bp)[:0], id, topic, payload, qos, retain)
	err := s.write(b)
	if cap(b) <= maxPooledWrite {
		*bp = b[:cap(b)]
	}
	bufPool.Put(bp)
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
	return s.write(pingreqPacket[:])
}

// subscribe sends SUBSCRIBE; the SUBACK goes to onSuback.
func (s *Session) subscribe(id uint16, subs []Subscription) error {
	return s.write(subscribePacket(id, subs))
}

func (s *Session) writeAck(typ byte, id uint16) error {
	b := ackPacket(typ, id)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writeLocked(b[:])
}

func (s *Session) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writeLocked(b)
}

func (s *Session) writeLocked(b []byte) error {
	if s.werr != nil {
		return s.werr
	}
	s.armDeadline()
	if _, err := s.conn.Write(b); err != nil {
		// A partial write leaves the stream unusable: end it, and let
		// the reader report Lost with this cause.
		s.werr = fmt.Errorf("mqtt: write: %w", err)
		s.conn.Close()
		return s.werr
	}
	return nil
}

// armDeadline bounds the coming write by about s.timeout. Re-arming costs a
// runtime timer update, so it is skipped while the armed deadline is
// still at least 90% of s.timeout away.
func (s *Session) armDeadline() {
	now := time.Now().UnixNano()
	if s.deadline-now >= int64(s.timeout)/10*9 {
		return
	}
	s.deadline = now + int64(s.timeout)
	s.conn.SetWriteDeadline(time.Unix(0, s.deadline))
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

// Close sends DISCONNECT and closes the connection. It is idempotent and
// returns after the reader goroutine has exited, except when called from
// a Handler method (or while one runs), when it returns at once and no
// further Handler method starts. Handler.Lost is never called after Close.
func (s *Session) Close() error {
	var err error
	if s.state.CompareAndSwap(stateOpen, stateClosed) {
		s.wmu.Lock()
		if s.werr == nil {
			s.armDeadline()
			_, _ = s.conn.Write(disconnectPacket[:]) // best effort: we are leaving anyway
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
