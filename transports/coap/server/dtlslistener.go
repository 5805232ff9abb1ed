package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v2"
	"github.com/pion/transport/v2/udp"
)

// dtlsListener is the DTLS side of a server. pion's udp listener owns
// the socket and its reader goroutine, which hands each client's
// datagrams to that client's conn (a new conn for a ClientHello from a
// new address); the accept goroutine starts a goroutine per handshake,
// at most MaxHandshakes at once, each with its deadline, so that a slow
// or vanished client holds one slot, not the listener. A goroutine
// whose handshake succeeds goes on as its session's reader: it hands
// the decrypted datagrams to the workers, as the plain reader does. The
// janitor goroutine ends idle sessions.
type dtlsListener struct {
	s      *Server
	c      DTLSConfig
	cfg    *dtls.Config
	cache  *sessionCache // nil: no resumption
	ln     net.Listener
	ctx    context.Context // ends every handshake at close
	cancel context.CancelFunc
	slots  chan struct{} // a token per handshake in progress
	n      atomic.Int64  // sessions, established or in their handshake
	stop   chan struct{} // closed at close: the janitor returns
	wg     sync.WaitGroup

	mu       sync.Mutex // guards sessions and closed
	sessions map[*session]struct{}
	closed   bool
}

// session is one client's DTLS session.
type session struct {
	addr  netip.AddrPort
	peer  *DTLSPeer
	conn  atomic.Pointer[conns] // nil once the session ended
	last  atomic.Int64          // UnixNano of the last datagram received
	ended atomic.Bool
	idle  atomic.Bool // ended by the janitor
}

// listenDTLS starts the DTLS listener of s on Config.DTLS.Addr, by
// default the host of the plain listener's addr with a free port.
func listenDTLS(s *Server, plainAddr string) (*dtlsListener, error) {
	c := s.c.DTLS.withDefaults()
	addr := c.Addr
	if addr == "" {
		host, _, err := net.SplitHostPort(plainAddr)
		if err != nil {
			return nil, fmt.Errorf("server: dtls: %w", err)
		}
		addr = net.JoinHostPort(host, "0")
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: dtls: resolve %s: %w", addr, err)
	}
	l := &dtlsListener{s: s, c: c, slots: make(chan struct{}, c.MaxHandshakes),
		stop: make(chan struct{}), sessions: make(map[*session]struct{})}
	if c.SessionCache > 0 {
		l.cache = newSessionCache(c.SessionCache)
	}
	l.cfg = c.pion(l.cache)
	lc := udp.ListenConfig{AcceptFilter: l.acceptable, Backlog: handshakeBacklog}
	if l.ln, err = lc.Listen("udp", ua); err != nil {
		return nil, fmt.Errorf("server: dtls: listen on %s: %w", addr, err)
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Go(l.acceptLoop)
	l.wg.Go(l.janitor)
	return l, nil
}

// handshakeBacklog is how many new clients may wait for a handshake
// slot: pion's default, 128, made a burst of 200 clients lose 8
// ClientHellos to 64 slots, and their handshakes a second each.
const handshakeBacklog = 1024

// acceptable tells pion's reader whether a datagram from a new address
// may open a conn: a ClientHello (a handshake record whose message is of
// type 1), while fewer than MaxSessions are open. It runs on pion's
// reader goroutine, with its lock held.
func (l *dtlsListener) acceptable(b []byte) bool {
	if !clientHello(b) {
		return false
	}
	if l.n.Load() >= int64(l.c.MaxSessions) {
		l.s.st.add(cDTLSRefused)
		return false
	}
	return true
}

// clientHello reports whether b starts with a record of epoch 0 that
// holds a ClientHello: a handshake record (content type 22) whose first
// message is of type 1 (RFC 6347 §4.1, §4.2.2).
func clientHello(b []byte) bool {
	return len(b) >= 14 && b[0] == 22 && b[3] == 0 && b[4] == 0 && b[13] == 1
}

// rawConn is a session's conn beneath pion. Once the handshake is done,
// a ClientHello of epoch 0 from the client with a new random means it
// starts anew (it rebooted, or a NAT gave its port to another device):
// RFC 6347 §4.2.8 lets the server then end the old association. rawConn
// does so by closing itself, which ends the session; the client's next
// ClientHello (a FlightInterval later) finds no conn for its address and
// opens a new one. Without it the client would stay shut out until
// IdleTimeout. A late copy of the handshake's own ClientHello (the same
// random) passes to pion, which ignores it.
type rawConn struct {
	net.Conn
	random      [32]byte // the random of the handshake's last ClientHello; read by Read only
	established atomic.Bool
}

// helloRandom is where a ClientHello's random sits in its datagram:
// after the record header (13 bytes), the handshake header (12) and the
// client version (2).
const helloRandom = 27

// Read reads the client's next datagram; on a new ClientHello after the
// handshake it closes the conn and returns io.EOF.
func (c *rawConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil || n < helloRandom+32 || !clientHello(b[:n]) {
		return n, err
	}
	random := b[helloRandom : helloRandom+32]
	if !c.established.Load() {
		copy(c.random[:], random)
		return n, err
	}
	if string(random) != string(c.random[:]) {
		c.Conn.Close()
		return 0, io.EOF
	}
	return n, err
}

// acceptLoop takes each new conn once a handshake slot is free, and
// starts its handshake, until the listener closes.
func (l *dtlsListener) acceptLoop() {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.stop:
			return
		}
		raw, err := l.ln.Accept()
		if err != nil {
			<-l.slots
			return // only a closed listener fails Accept
		}
		if l.n.Add(1) > int64(l.c.MaxSessions) {
			l.n.Add(-1)
			l.s.st.add(cDTLSRefused)
			raw.Close()
			<-l.slots
			continue
		}
		l.wg.Go(func() { l.handshake(raw) })
	}
}

// handshake runs the server's handshake over raw, bounded by
// HandshakeTimeout and the listener's life, then serves the session on
// this goroutine until it ends.
func (l *dtlsListener) handshake(udpConn net.Conn) {
	raw := &rawConn{Conn: udpConn}
	ctx, cancel := context.WithTimeout(l.ctx, l.c.HandshakeTimeout)
	conn, err := dtls.ServerWithContext(ctx, raw, l.cfg)
	cancel()
	<-l.slots
	if err != nil {
		l.s.st.add(cHandshakeFailures)
		l.s.log.Debug("DTLS handshake failed", "peer", udpConn.RemoteAddr(), "err", err)
		raw.Close()
		l.n.Add(-1)
		return
	}
	l.s.st.add(cHandshakes)
	raw.established.Store(true)
	ss := l.newSession(conn, raw)
	if !l.add(ss) {
		l.end(ss)
		return
	}
	l.serve(ss)
}

// conns are a session's DTLS conn and the conn beneath it, through which
// its close_notify's write is bounded. A session lets go of them when it
// ends: the duplicate caches and uploads that still name it keep a
// small struct, not pion's buffers.
type conns struct {
	dc  *dtls.Conn
	raw net.Conn
}

// close sends close_notify, within closeNotifyTimeout, and closes both
// conns.
func (c *conns) close() {
	c.raw.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
	c.dc.Close()
	c.raw.Close()
}

// newSession makes the session of an established conn.
// A resumed session's peer is the one its full handshake authenticated.
func (l *dtlsListener) newSession(conn *dtls.Conn, raw net.Conn) *session {
	ua, _ := raw.RemoteAddr().(*net.UDPAddr)
	if ua == nil {
		ua = &net.UDPAddr{}
	}
	st := conn.ConnectionState()
	peer, resumed := l.cache.established(st.SessionID,
		&DTLSPeer{UDPAddr: ua, Identity: st.IdentityHint, Certificates: st.PeerCertificates})
	if resumed {
		l.s.st.add(cDTLSResumed)
	}
	ss := &session{addr: ua.AddrPort(), peer: peer}
	ss.conn.Store(&conns{dc: conn, raw: raw})
	ss.last.Store(time.Now().UnixNano())
	return ss
}

// add registers ss, false once the listener is closing.
func (l *dtlsListener) add(ss *session) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.sessions[ss] = struct{}{}
	return true
}

// serve is a session's reader: it hands each decrypted datagram to the
// workers until the session ends (the client's close_notify, the
// janitor, Close), then forgets the session.
func (l *dtlsListener) serve(ss *session) {
	defer l.end(ss)
	ep := endpoint{addr: ss.addr, sess: ss}
	conn := ss.conn.Load().dc
	s := l.s
	for {
		d := s.buffer()
		n, err := conn.Read(d.b[:])
		if err != nil {
			s.release(d)
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, dtls.ErrConnClosed) {
				return // the conn is closed
			}
			// A record too large for the buffer, a non-fatal alert, one
			// that does not decrypt: pion goes on reading, so does serve.
			s.st.add(cMalformed)
			continue
		}
		now := time.Now()
		ss.last.Store(now.UnixNano())
		d.n, d.from, d.at = n, ep, now
		s.dispatch(d)
	}
}

// end closes ss and forgets it: its observations end with it.
func (l *dtlsListener) end(ss *session) {
	ss.ended.Store(true)
	ss.conn.Swap(nil).close()
	l.s.obs.forget(endpoint{addr: ss.addr, sess: ss})
	l.mu.Lock()
	delete(l.sessions, ss)
	l.mu.Unlock()
	l.n.Add(-1)
	if ss.idle.Load() {
		l.s.st.add(cDTLSExpired)
	}
}

// closeNotifyTimeout bounds the write of a close_notify alert.
const closeNotifyTimeout = time.Second

// janitor ends the sessions idle for IdleTimeout, checking a few times
// per IdleTimeout (at least once a second), until the listener closes.
func (l *dtlsListener) janitor() {
	t := time.NewTicker(min(l.c.IdleTimeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			l.expire(now)
		}
	}
}

// expire closes the conns of the sessions idle since before now minus
// IdleTimeout; their readers then end them.
func (l *dtlsListener) expire(now time.Time) {
	limit := now.Add(-l.c.IdleTimeout).UnixNano()
	var idle []*session
	l.mu.Lock()
	for ss := range l.sessions {
		if ss.last.Load() < limit {
			idle = append(idle, ss)
		}
	}
	l.mu.Unlock()
	for _, ss := range idle {
		ss.idle.Store(true)
		ss.shut()
	}
}

// shut closes the session's conn, so that its reader ends it.
func (ss *session) shut() {
	if c := ss.conn.Load(); c != nil {
		c.close()
	}
}

// write sends b to the client through its session; after the session
// ended, b is dropped.
func (ss *session) write(b []byte, st *counters) {
	c := ss.conn.Load()
	if c == nil {
		return
	}
	if _, err := c.dc.Write(b); err != nil && !ss.ended.Load() {
		st.add(cWriteErrors)
	}
}

// close ends the handshakes in progress and the sessions, and waits for
// the listener's goroutines.
func (l *dtlsListener) close() {
	l.cancel()
	close(l.stop)
	l.ln.Close()
	l.mu.Lock()
	l.closed = true
	open := make([]*session, 0, len(l.sessions))
	for ss := range l.sessions {
		open = append(open, ss)
	}
	l.mu.Unlock()
	for _, ss := range open {
		ss.shut()
	}
	l.wg.Wait()
}

// count returns the sessions established and those in their handshake.
func (l *dtlsListener) count() (open, handshaking int) {
	l.mu.Lock()
	open = len(l.sessions)
	l.mu.Unlock()
	return open, max(0, int(l.n.Load())-open)
}
