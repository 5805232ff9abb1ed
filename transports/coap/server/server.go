// Package server is an embedded CoAP server (RFC 7252 over UDP): the
// zero-setup target of CoAP fleets and a fast server for tests, as
// transports/mqtt/broker is for MQTT. Its behaviour follows libcoap's
// example server with dynamic resources (coap-server -d): a resource
// store where PUT creates or replaces, POST creates or appends, GET
// reads and DELETE removes; every resource is observable (RFC 7641),
// large representations go in blocks (RFC 7959), and a retransmitted
// request is answered from a cache rather than handled twice.
//
// One UDP socket, one reader goroutine and Config.Workers workers: the
// reader hands each datagram to the worker its sender hashes to, so one
// client's requests are handled in order and a worker's duplicate cache
// and Block1 uploads need no lock. Memory is bounded by Config: beyond
// its limits requests get 4.13 or 5.03.
//
// Put and OnUpdate let an engine play the backend: Put changes a
// resource and notifies its observers (server-pushed commands), and
// OnUpdate reports what devices write, with when it arrived.
//
// # DTLS
//
// With Config.DTLS the server also listens for CoAP over DTLS 1.2
// (coaps, RFC 7252 §9; pion/dtls/v2) on a second socket (SecureAddr):
// with a pre-shared key (one for every client, or one per identity) or
// a certificate, client certificates optional or required. Its clients
// share the resources, observers, workers and Stats with plain ones;
// OnUpdate is given a *DTLSPeer, which carries the client's PSK
// identity or certificates.
//
// pion's udp listener reads the socket (one goroutine) and hands each
// client's datagrams to its own conn, keyed by address. Each handshake
// runs on its own goroutine with a deadline (HandshakeTimeout), at most
// MaxHandshakes (64) at once, the ClientHellos of up to 1024 more
// waiting, so a client that vanishes mid-handshake holds one slot for
// that long and the others go on; pion v2's own Listener.Accept would
// run them one after another. A goroutine whose
// handshake succeeds stays as its session's reader, handing decrypted
// datagrams to the workers as the plain reader does; answers and
// notifications are encrypted and sent through the session's conn. A
// client is its session: its observations, duplicates and uploads are
// not another session's from the same address, and its observations end
// when its session does: on its close_notify, after IdleTimeout (5
// minutes) without a datagram from it, at Close, or when it sends a new
// ClientHello (a new random) from the same address (it restarted: RFC
// 6347 §4.2.8; it gets its new session one handshake retransmission,
// about a second, later). MaxSessions (10,000) bounds the sessions; past it ClientHellos
// are ignored. Stats count handshakes completed, resumed and failed,
// sessions refused, expired and open.
//
// Cost and pace (2 shared cores, loopback; BenchmarkIdleDTLSPeers,
// BenchmarkDTLSHandshakes): an idle DTLS client costs the server 4
// goroutines (its reader, and pion's handshake loop, record reader and
// read helper), 31-33 KiB of heap and 14 KiB of stacks, 45-47 KB
// resident; a plain client costs nothing until it observes or uploads.
// Full PSK handshakes with a cookie exchange, 32 clients in the same
// process, run at 2,000-2,750/s one at a time and 2,200-3,100/s with 64
// at once: on two cores handshakes are CPU-bound, and the slots keep
// slow clients from holding others up rather than add speed. Resumed
// ones run at 3,650-5,200/s.
//
// Sessions are cached for resumption (RFC 5246 §7.3: SessionCache,
// 10,000 by default): a client that kept its session (coap.DTLS's
// Sessions) resumes it in an abbreviated handshake, and OnUpdate is
// given the identity its full handshake authenticated.
//
// Not supported: DTLS Connection ID (RFC 9146), which pion/dtls/v2 does
// not implement, so a client whose address changes must handshake
// again; raw public keys (RFC 7250); DTLS 1.3.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// Config bounds the server and tunes its notifications. The zero value
// is usable: every field has a default, from withDefaults.
type Config struct {
	// Workers is how many goroutines handle requests (default
	// GOMAXPROCS, at most 4); QueueLen how many datagrams may wait for
	// each (default 1024). A datagram that finds its worker's queue
	// full is dropped and counted, as a busy server's socket buffer
	// would.
	Workers, QueueLen int

	// MaxResources (default 10,000) and MaxBytes (the sum of their
	// sizes, default 256 MiB) bound the store: a write past them gets
	// 5.03 Service Unavailable. MaxResourceSize (default 1 MiB) bounds
	// one representation: a write past it gets 4.13 Request Entity Too
	// Large with a Size1 option giving the limit.
	MaxResources    int
	MaxBytes        int64
	MaxResourceSize int
	// MaxObservers bounds the observer registrations (default 65,536).
	// Past it a GET with Observe 0 is answered without an Observe
	// option, as RFC 7641 §4.1 asks: the client learns it is not
	// registered. MaxUploads bounds the Block1 uploads in progress
	// (default 1024): past it a first block gets 5.03.
	MaxObservers, MaxUploads int

	// BlockSize is the largest block the server sends or accepts (16 to
	// 1024, default 1024): a representation larger than it is read in
	// Block2 blocks, a request that asks for larger blocks is answered
	// in this size, and a write larger than it must come in Block1
	// blocks (a plain one gets 4.13 with a Block1 option of this size,
	// RFC 7959 §2.9.3).
	BlockSize int

	// ConfirmEvery makes every Nth notification to an observer
	// confirmable (default 5; negative: none; libcoap's server with -N
	// makes each sixth so); Confirmable makes them all so, as libcoap's
	// server does by default. A confirmable notification is retransmitted after
	// AckTimeout (default 2s), doubling, up to MaxRetransmit times
	// (default 4); unacknowledged after that, its observer is removed
	// (RFC 7641 §4.5), as on an RST.
	ConfirmEvery  int
	Confirmable   bool
	AckTimeout    time.Duration
	MaxRetransmit int

	// ExchangeLifetime is how long a request's message id is remembered
	// to answer its duplicates from a cache (default 247s, RFC 7252's
	// EXCHANGE_LIFETIME), and how long an idle Block1 upload is kept.
	// DedupEntries is the cache's size per worker (default 2048): under
	// a load that sends more requests within the lifetime, older
	// entries are overwritten early and their duplicates handled
	// again.
	ExchangeLifetime time.Duration
	DedupEntries     int

	// Seed seeds the message ids of the server's own messages.
	Seed uint64

	// DTLS, when set, makes the server also listen for CoAP over DTLS
	// 1.2 (coaps, RFC 7252 §9) on DTLS.Addr, besides the plain listener:
	// both share the resources, observers, workers and Stats.
	DTLS *DTLSConfig
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = min(runtime.GOMAXPROCS(0), 4)
	}
	c.QueueLen = or(c.QueueLen, 1024)
	c.MaxResources = or(c.MaxResources, 10_000)
	if c.MaxBytes <= 0 {
		c.MaxBytes = 256 << 20
	}
	c.MaxResourceSize = or(c.MaxResourceSize, 1<<20)
	c.MaxObservers = or(c.MaxObservers, 1<<16)
	c.MaxUploads = or(c.MaxUploads, 1024)
	if c.BlockSize < 16 || c.BlockSize > 1024 {
		c.BlockSize = 1024
	}
	c.BlockSize = 1 << (bitLen(c.BlockSize) - 1) // down to a power of two
	if c.ConfirmEvery == 0 {
		c.ConfirmEvery = 5
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = coap.DefaultAckTimeout
	}
	c.MaxRetransmit = or(c.MaxRetransmit, coap.DefaultMaxRetransmit)
	if c.ExchangeLifetime <= 0 {
		c.ExchangeLifetime = 247 * time.Second
	}
	c.DedupEntries = or(c.DedupEntries, 2048)
	return c
}

func or(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func bitLen(v int) int {
	n := 0
	for ; v > 0; v >>= 1 {
		n++
	}
	return n
}

// szx returns the Block size exponent of the configured BlockSize.
func (c *Config) szx() uint8 { return uint8(bitLen(c.BlockSize) - 5) }

// ErrTooLarge refuses a representation over Config.MaxResourceSize.
var ErrTooLarge = errors.New("server: representation too large")

// ErrFull refuses a write past Config.MaxResources or Config.MaxBytes.
var ErrFull = errors.New("server: resource store full")

// UpdateFunc is told of every write a client completed (PUT or POST,
// the last block of a Block1 upload): the resource's path ("/a/b"), the
// request's body, the client's address and when the request (its last
// block) arrived. It runs on a worker goroutine after the response is
// sent, so a slow one delays that worker's next requests; payload must
// not be modified, and may be kept.
type UpdateFunc func(path string, payload []byte, peer net.Addr, arrived time.Time)

// Server is a running embedded CoAP server.
type Server struct {
	c       Config
	pc      *net.UDPConn
	log     *slog.Logger
	dtls    *dtlsListener // nil without Config.DTLS
	workers []*worker
	free    chan *datagram // buffers for the readers to reuse
	readers sync.WaitGroup // the plain reader
	wg      sync.WaitGroup // the workers
	close   sync.Once
	st      counters
	store   store
	obs     observers
	update  atomic.Pointer[UpdateFunc]
	dropLog atomic.Int64 // UnixNano of the last drop warning
}

// maxDatagram bounds the datagrams read: a longer one is dropped as
// malformed. RFC 7252 §4.6 keeps messages within 1152 bytes; the slack
// takes a 1024-byte block with long options.
const maxDatagram = 2048

// datagram is one received datagram on its way to a worker.
type datagram struct {
	b    [maxDatagram]byte
	n    int
	from endpoint
	at   time.Time
}

// endpoint is a client: its address, and for a client over DTLS its
// session, through which it is answered. A session is part of the key:
// a client that connects again from the same address is another
// endpoint, and its former session's observations and duplicates are
// not its own.
type endpoint struct {
	addr netip.AddrPort
	sess *session // nil: plain UDP
}

// Start runs a server on addr ("127.0.0.1:0" picks a port) with the
// default Config. It logs through log at debug level, except for
// dropped datagrams, reported at warning level at most once a second; a
// nil log is quiet.
func Start(addr string, log *slog.Logger) (*Server, error) {
	return StartConfig(addr, log, Config{})
}

// StartConfig runs a server on addr with c (see Start).
func StartConfig(addr string, log *slog.Logger, c Config) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c = c.withDefaults()
	if err := c.DTLS.validate(); err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: resolve %s: %w", addr, err)
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", addr, err)
	}
	s := &Server{c: c, pc: pc, log: log.With("component", "coap-server"),
		free: make(chan *datagram, c.Workers*(c.QueueLen+1)+1)}
	s.store.init(&s.c)
	s.obs.init(s)
	for i := range c.Workers {
		w := newWorker(s, i)
		s.workers = append(s.workers, w)
		s.wg.Go(w.run)
	}
	s.readers.Go(s.readLoop)
	if c.DTLS != nil {
		if s.dtls, err = listenDTLS(s, addr); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Addr returns the host:port the server bound.
func (s *Server) Addr() string { return s.pc.LocalAddr().String() }

// SecureAddr returns the host:port the DTLS listener bound, "" without
// Config.DTLS.
func (s *Server) SecureAddr() string {
	if s.dtls == nil {
		return ""
	}
	return s.dtls.ln.Addr().String()
}

// Close stops the server: the sockets close, DTLS sessions end (with a
// close_notify alert), the goroutines exit (Close waits for them) and
// pending confirmable notifications are dropped. It is idempotent.
func (s *Server) Close() error {
	var err error
	s.close.Do(func() {
		err = s.pc.Close()
		if s.dtls != nil {
			s.dtls.close()
		}
		s.readers.Wait() // nothing feeds the workers any more
		for _, w := range s.workers {
			close(w.in)
		}
		s.wg.Wait()
		s.obs.stop()
	})
	if err != nil {
		return fmt.Errorf("server: close: %w", err)
	}
	return nil
}

// OnUpdate sets the function told of clients' writes; nil removes it.
func (s *Server) OnUpdate(f UpdateFunc) {
	if f == nil {
		s.update.Store(nil)
		return
	}
	s.update.Store(&f)
}

// readLoop is the plain reader goroutine: it hands each datagram to its
// sender's worker until the socket closes.
func (s *Server) readLoop() {
	for {
		d := s.buffer()
		n, from, err := s.pc.ReadFromUDPAddrPort(d.b[:])
		switch {
		case errors.Is(err, net.ErrClosed):
			return
		case err != nil:
			s.st.add(cReadErrors) // an ICMP report for an earlier datagram: the socket lives on
			s.release(d)
			continue
		case n == len(d.b):
			s.st.add(cMalformed) // truncated: larger than any CoAP datagram the server takes
			s.release(d)
			continue
		}
		d.n, d.from, d.at = n, endpoint{addr: from}, time.Now()
		s.dispatch(d)
	}
}

// dispatch hands d to its sender's worker, or drops it when the
// worker's queue is full.
func (s *Server) dispatch(d *datagram) {
	select {
	case s.workers[shard(d.from.addr)%uint32(len(s.workers))].in <- d:
	default:
		s.dropped()
		s.release(d)
	}
}

// buffer returns a free datagram buffer, allocating while fewer than the
// free list holds exist.
func (s *Server) buffer() *datagram {
	select {
	case d := <-s.free:
		return d
	default:
		return new(datagram)
	}
}

// release returns d to the free list.
func (s *Server) release(d *datagram) {
	select {
	case s.free <- d:
	default:
	}
}

// dropped counts a datagram dropped for a full queue, warning at most
// once a second.
func (s *Server) dropped() {
	n := s.st.add(cDropped)
	now := time.Now().UnixNano()
	last := s.dropLog.Load()
	if now-last < int64(time.Second) || !s.dropLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("embedded CoAP server dropped datagrams: worker queue full",
		"dropped_total", n, "queue", s.c.QueueLen, "workers", s.c.Workers)
}

// shard hashes a client's address (FNV-1a) to pick its worker.
func shard(a netip.AddrPort) uint32 {
	h := uint32(2166136261)
	b := a.Addr().As16()
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	h = (h ^ uint32(a.Port()&0xff)) * 16777619
	return (h ^ uint32(a.Port()>>8)) * 16777619
}

// send writes one datagram to a client: on the socket, or through its
// DTLS session. A failed write is a datagram lost on the way, as UDP
// loses them: counted, not reported.
func (s *Server) send(b []byte, to endpoint) {
	if to.sess != nil {
		to.sess.write(b, &s.st)
		return
	}
	if _, err := s.pc.WriteToUDPAddrPort(b, to.addr); err != nil {
		s.st.add(cWriteErrors)
	}
}
