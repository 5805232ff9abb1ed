// Package server is an embedded LwM2M 1.1 server: the zero-setup backend
// of LwM2M fleets and a real server for the client's tests, as
// transports/mqtt/broker is for MQTT.
//
// It answers the Registration interface (Core §6.2, Transport §6.4.1:
// Register, Update, De-register under /rd), takes the Send operation
// (Core §6.4.4: SenML records posted to /dp, handed to OnSend) and, from the same UDP
// socket, sends Device Management and Information Reporting requests to
// the registered devices at the address and port they registered from,
// as LwM2M servers do: Read, Write, Execute, Discover, Write-Attributes,
// Create, Delete, Observe and its cancellation. For that it has a small
// CoAP client side of its own: message ids per device, tokens,
// confirmable retransmission with RFC 7252 timing, responses (piggybacked
// or separate) and notifications matched to their requests. It also
// serves a firmware image for block-wise download (RFC 7959 Block2), so
// a firmware update needs no other server.
//
// # Concurrency
//
// One socket, one reader goroutine and one time.AfterFunc timer. The
// reader decodes each datagram and acts on it under the server's lock:
// registration requests are answered at once, answers and notifications
// matched. The timer retransmits, times out and expires registrations.
// The request methods (Read ...) block their caller until the answer,
// ctx's end or a timeout. Callbacks (OnRegister ..., notification
// functions) run on the reader goroutine after the lock is released and
// must not block; so they must not call the request methods, which wait
// for the reader.
//
// # Queue mode
//
// A device registered with Q (or a 1.0 binding with Q) is reachable only
// for Config.AwakeTime after each Register or Update (Transport §6.5:
// MAX_TRANSMIT_WAIT by default). A request for it outside that window
// waits in its queue (Config.QueueLimit), and goes out after its next
// Update, in order. Every device gets one request at a time, queue mode
// or not: NSTART 1 towards each endpoint.
//
// # Bounds
//
// Config bounds the registrations, the requests pending across devices
// and per device, and the duplicate cache. Registrations are keyed by
// endpoint name: a Register from a known endpoint replaces its
// registration, and an Update from a new address (a NAT that rebound the
// device's port) moves it there.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	coapserver "github.com/m2msim/m2msim/transports/coap/server"
)

// Config bounds the server and sets its timing. The zero value is usable:
// withDefaults fills in every field.
type Config struct {
	// DTLS, when set, makes the server listen for LwM2M over DTLS 1.2
	// (coaps) too, on DTLS.Addr (default: the plain listener's host, a
	// free port; SecureAddr tells which), with its keys and limits. A
	// device over DTLS is known by its address like any other.
	DTLS *coapserver.DTLSConfig
	// MaxRegistrations bounds the registered devices (default 100,000);
	// past it a Register gets 5.03 Service Unavailable.
	MaxRegistrations int
	// MaxPending bounds the requests under way or queued across all
	// devices (default 65,536), QueueLimit those per device (default
	// 16); past them a request fails with ErrBusy.
	MaxPending, QueueLimit int
	// AwakeTime is how long a queue-mode device listens after a
	// Register or Update (default 93s, MAX_TRANSMIT_WAIT: Transport
	// §6.5).
	AwakeTime time.Duration
	// ExpiryGrace is how long past its lifetime a registration is kept
	// without an Update before it expires (default 2s).
	ExpiryGrace time.Duration

	// AckTimeout (default 2s) and MaxRetransmit (default 4) time the
	// retransmission of confirmable requests (RFC 7252 §4.2), with
	// ACK_RANDOM_FACTOR 1.5; ResponseTimeout bounds the wait for a
	// separate response after an empty ACK (default 93s).
	AckTimeout      time.Duration
	MaxRetransmit   int
	ResponseTimeout time.Duration
	// ExchangeLifetime is how long a device's message id is remembered
	// to answer its retransmissions from a cache (default 247s);
	// DedupEntries the cache's size (default 8192, direct-mapped).
	ExchangeLifetime time.Duration
	DedupEntries     int

	// FirmwareSize is the size of the firmware image served at
	// FirmwarePath (default 16 KiB at "fw"), in blocks of at most
	// BlockSize (16 to 1024, default 1024). Its bytes come from Seed.
	FirmwareSize int
	FirmwarePath string
	BlockSize    int

	// Seed seeds tokens, message ids, retransmission timeouts and the
	// firmware image.
	Seed uint64
}

func (c Config) withDefaults() Config {
	c.MaxRegistrations = or(c.MaxRegistrations, 100_000)
	c.MaxPending = or(c.MaxPending, 1<<16)
	c.QueueLimit = or(c.QueueLimit, 16)
	c.AwakeTime = orDur(c.AwakeTime, 93*time.Second)
	c.ExpiryGrace = orDur(c.ExpiryGrace, 2*time.Second)
	c.AckTimeout = orDur(c.AckTimeout, coap.DefaultAckTimeout)
	c.MaxRetransmit = or(c.MaxRetransmit, coap.DefaultMaxRetransmit)
	c.ResponseTimeout = orDur(c.ResponseTimeout, 93*time.Second)
	c.ExchangeLifetime = orDur(c.ExchangeLifetime, 247*time.Second)
	c.DedupEntries = or(c.DedupEntries, 8192)
	c.FirmwareSize = or(c.FirmwareSize, 16<<10)
	if c.FirmwarePath == "" {
		c.FirmwarePath = "fw"
	}
	if c.BlockSize < 16 || c.BlockSize > 1024 {
		c.BlockSize = 1024
	}
	return c
}

func or(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDur(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// EventFunc is told of a registration event: the endpoint and when its
// request arrived.
type EventFunc func(ep string, at time.Time)

// Errors of the request methods.
var (
	// ErrNotRegistered: no device is registered under the endpoint name.
	ErrNotRegistered error = &stateError{"endpoint not registered", "lwm2m_not_registered"}
	// ErrBusy: Config.MaxPending or the device's QueueLimit is reached.
	ErrBusy error = &stateError{"too many requests pending", "lwm2m_server_busy"}
	// ErrDeregistered: the device de-registered, or its registration
	// expired, before the request was answered.
	ErrDeregistered error = &stateError{"device de-registered", "lwm2m_deregistered"}
	// ErrClosed: the server is closed.
	ErrClosed = fmt.Errorf("lwm2m server: closed: %w", net.ErrClosed)
)

// stateError is why the server could not take or finish a request; its
// Kind labels it in a load test's error counts.
type stateError struct{ msg, kind string }

func (e *stateError) Error() string { return "lwm2m server: " + e.msg }

// Kind is the error's label: lwm2m_not_registered, lwm2m_server_busy or
// lwm2m_deregistered.
func (e *stateError) Kind() string { return e.kind }

// Server is a running embedded LwM2M server.
type Server struct {
	c  Config
	pc *net.UDPConn
	// secure is the DTLS listener, nil without Config.DTLS; done2 is
	// closed when its reader returns.
	secure *coapserver.PacketConn
	done2  chan struct{}
	log    *slog.Logger
	done   chan struct{} // closed when the reader has exited
	fw     firmware
	st     counters

	onRegister, onUpdate, onDeregister, onExpire atomic.Pointer[EventFunc]
	onSend                                       atomic.Pointer[SendFunc]

	mu       sync.Mutex // guards the fields below
	closed   bool
	byEP     map[string]*registration
	byID     map[string]*registration
	byAddr   map[netip.AddrPort]*registration // where each device registered or last updated from
	nextID   uint64
	inflight map[uint32]*request     // sent and unanswered, by token
	byMID    map[midKey]*request     // confirmable, not yet acknowledged
	obs      map[uint32]*Observation // by token
	pending  int                     // requests in flight or queued
	token    uint32
	rng      *rand.Rand
	timer    *time.Timer
	armed    time.Time // when the timer fires; zero: not armed
	sweep    time.Time // the next expiry sweep
	dedup    dedup
	in       coap.Message // the reader's scratch
	out      []byte       // scratch for encoding under mu
	calls    []func()     // callbacks due once mu is released
}

// Start runs a server on addr ("127.0.0.1:0" picks a port). It logs
// through log at debug level; nil is quiet.
func Start(addr string, log *slog.Logger, c Config) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c = c.withDefaults()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("lwm2m server: resolve %s: %w", addr, err)
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("lwm2m server: listen on %s: %w", addr, err)
	}
	s := &Server{c: c, pc: pc, log: log.With("component", "lwm2m-server"), done: make(chan struct{}),
		byEP: map[string]*registration{}, byID: map[string]*registration{}, byAddr: map[netip.AddrPort]*registration{},
		inflight: map[uint32]*request{}, byMID: map[midKey]*request{}, obs: map[uint32]*Observation{},
		rng: rand.New(rand.NewPCG(c.Seed, 0x1a2b)), dedup: newDedup(c.DedupEntries, c.ExchangeLifetime)}
	s.token = s.rng.Uint32()
	s.nextID = uint64(s.rng.Uint32())
	s.fw = newFirmware(c)
	s.timer = time.AfterFunc(time.Hour, s.tick)
	s.timer.Stop()
	if c.DTLS != nil {
		addr := c.DTLS.Addr
		if addr == "" {
			addr = net.JoinHostPort(ua.IP.String(), "0")
		}
		if s.secure, err = coapserver.ListenDTLS(addr, *c.DTLS); err != nil {
			pc.Close()
			return nil, fmt.Errorf("lwm2m server: %w", err)
		}
		s.done2 = make(chan struct{})
		go s.readLoop(s.secure, s.done2)
	}
	go s.readLoop(pc, s.done)
	return s, nil
}

// SecureAddr returns the host:port of the DTLS listener; empty without
// Config.DTLS.
func (s *Server) SecureAddr() string {
	if s.secure == nil {
		return ""
	}
	return s.secure.LocalAddr().String()
}

// DTLSHandshakes returns the DTLS handshakes completed and failed.
func (s *Server) DTLSHandshakes() (done, failed uint64) {
	if s.secure == nil {
		return 0, 0
	}
	return s.secure.Handshakes()
}

// packetConn is a socket the server reads and writes datagrams on: the
// plain UDP one, or the DTLS listener's sessions seen as one.
type packetConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error)
}

// Addr returns the host:port the server bound.
func (s *Server) Addr() string { return s.pc.LocalAddr().String() }

// Close stops the server: the socket closes, the reader exits (Close
// waits for it), and the requests under way fail with ErrClosed. It is
// idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.timer.Stop()
	for _, r := range s.byEP {
		s.fail(r, ErrClosed)
	}
	s.mu.Unlock()
	err := s.pc.Close()
	<-s.done
	if s.secure != nil {
		err = errors.Join(err, s.secure.Close())
		<-s.done2
	}
	if err != nil {
		return fmt.Errorf("lwm2m server: close: %w", err)
	}
	return nil
}

// OnRegister sets the function told of every Register accepted; nil
// removes it. It runs on the reader goroutine and must not block: a
// request to the device it learns of (an Observe on registration) goes
// from another goroutine, as the request methods wait for the reader.
func (s *Server) OnRegister(f EventFunc) { store(&s.onRegister, f) }

// OnUpdate sets the function told of every Update accepted.
func (s *Server) OnUpdate(f EventFunc) { store(&s.onUpdate, f) }

// OnDeregister sets the function told of every De-register accepted.
func (s *Server) OnDeregister(f EventFunc) { store(&s.onDeregister, f) }

// OnExpire sets the function told of every registration that expired:
// its lifetime (and Config.ExpiryGrace) passed without an Update.
func (s *Server) OnExpire(f EventFunc) { store(&s.onExpire, f) }

func store(p *atomic.Pointer[EventFunc], f EventFunc) {
	if f == nil {
		p.Store(nil)
		return
	}
	p.Store(&f)
}

// event queues a call of the function in p. s.mu must be held.
func (s *Server) event(p *atomic.Pointer[EventFunc], ep string, at time.Time) {
	if f := p.Load(); f != nil {
		s.later(func() { (*f)(ep, at) })
	}
}

// later queues f to run once s.mu is released. s.mu must be held.
func (s *Server) later(f func()) { s.calls = append(s.calls, f) }

// unlock releases s.mu and runs the callbacks queued under it.
func (s *Server) unlock() {
	calls := s.calls
	s.calls = nil
	s.mu.Unlock()
	for _, f := range calls {
		f()
	}
}

// maxDatagram bounds the datagrams read: RFC 7252 §4.6 keeps messages
// within 1152 bytes; the slack takes long options.
const maxDatagram = 2048

// readLoop is a reader goroutine, one per socket: it acts on each
// datagram until the socket closes.
func (s *Server) readLoop(pc packetConn, done chan struct{}) {
	defer close(done)
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		switch {
		case errors.Is(err, net.ErrClosed):
			return
		case err != nil:
			s.st.add(cReadErrors) // an ICMP report for an earlier datagram: the socket lives on
			continue
		case n == len(buf):
			s.st.add(cMalformed)
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		s.mu.Lock()
		s.receive(buf[:n], from, time.Now())
		s.unlock()
	}
}

// receive acts on one datagram. s.mu must be held.
func (s *Server) receive(b []byte, from netip.AddrPort, now time.Time) {
	m := &s.in
	if err := coap.Decode(b, m); err != nil {
		s.st.add(cMalformed)
		return
	}
	switch {
	case s.closed:
	case m.Type == coap.Acknowledgement || m.Type == coap.Reset:
		s.answered(m, from, now)
	case m.Code.IsResponse():
		s.response(m, from, now)
	case m.Code.IsRequest():
		s.request(m, from, now)
	case m.Code == coap.Empty && m.Type == coap.Confirmable:
		s.empty(coap.Reset, m.MessageID, from) // a ping (RFC 7252 §4.3)
	default:
		s.st.add(cMalformed)
	}
}

// send writes one datagram. A failed write is a datagram lost, as UDP
// loses them: counted, not reported.
func (s *Server) send(b []byte, to netip.AddrPort) {
	var pc packetConn = s.pc
	if s.secure != nil && s.secure.Has(to) {
		pc = s.secure
	}
	if _, err := pc.WriteToUDPAddrPort(b, to); err != nil {
		s.st.add(cWriteErrors)
	}
}

// empty sends an empty ACK or RST for message id mid.
func (s *Server) empty(typ coap.Type, mid uint16, to netip.AddrPort) {
	s.out = append(s.out[:0], 1<<6|byte(typ)<<4, 0, byte(mid>>8), byte(mid))
	s.send(s.out, to)
}

// reply sends resp as the answer to request m from a device: piggybacked
// on the ACK of a CON, a NON for a NON; a CON's answer is cached for its
// duplicates. s.mu must be held.
func (s *Server) reply(m *coap.Message, resp *coap.Message, from netip.AddrPort, now time.Time) {
	resp.Token = m.Token
	if m.Type == coap.Confirmable {
		resp.Type, resp.MessageID = coap.Acknowledgement, m.MessageID
	} else {
		resp.Type, resp.MessageID = coap.NonConfirmable, uint16(s.rng.Uint32())
	}
	var err error
	if s.out, err = resp.AppendBinary(s.out[:0]); err != nil {
		r := coap.Message{Type: resp.Type, Code: coap.InternalServerError, MessageID: resp.MessageID, Token: m.Token}
		s.out, _ = r.AppendBinary(s.out[:0])
	}
	s.send(s.out, from)
	if m.Type == coap.Confirmable {
		s.dedup.store(from, m.MessageID, now, s.out)
	} else {
		s.dedup.store(from, m.MessageID, now, nil)
	}
}
