package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v2"
	"github.com/pion/transport/v2/udp"
)

// PacketConn is a DTLS 1.2 server seen as one UDP socket, for a server
// written for plain UDP (the embedded LwM2M server) to take unchanged:
// ReadFromUDPAddrPort returns each client's decrypted datagrams with the
// client's address, WriteToUDPAddrPort protects a datagram with the
// session of the client at that address. The server thus knows its
// clients by address, as over plain CoAP, and a client that comes back
// from a new address (a NAT rebinding) is a new session there too.
//
// Handshakes run as the Server's DTLS listener runs them: at most
// MaxHandshakes at once, each bounded by HandshakeTimeout, at most
// MaxSessions sessions, a session idle for IdleTimeout ended. Each
// session costs pion's conn and one reader goroutine.
type PacketConn struct {
	c      DTLSConfig
	cfg    *dtls.Config
	ln     net.Listener
	ctx    context.Context // ends every handshake at close
	cancel context.CancelFunc
	slots  chan struct{} // a token per handshake in progress
	in     chan muxed
	done   chan struct{} // closed at Close
	n      atomic.Int64  // sessions, established or in their handshake
	wg     sync.WaitGroup

	handshakes, failed atomic.Uint64

	mu       sync.Mutex // guards sessions and closed
	sessions map[netip.AddrPort]*dtls.Conn
	closed   bool
}

// muxed is a decrypted datagram and the client that sent it.
type muxed struct {
	b    []byte
	from netip.AddrPort
}

// inbound bounds the decrypted datagrams waiting for the server's
// reader; past it a datagram is dropped, as a full socket buffer drops.
const inbound = 4096

// ListenDTLS listens for DTLS on addr ("127.0.0.1:0" picks a port) with
// c's keys and limits.
func ListenDTLS(addr string, c DTLSConfig) (*PacketConn, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: dtls: resolve %s: %w", addr, err)
	}
	p := &PacketConn{c: c, slots: make(chan struct{}, c.MaxHandshakes), in: make(chan muxed, inbound),
		done: make(chan struct{}), sessions: map[netip.AddrPort]*dtls.Conn{}}
	var cache *sessionCache
	if c.SessionCache > 0 {
		cache = newSessionCache(c.SessionCache)
	}
	p.cfg = c.pion(cache)
	lc := udp.ListenConfig{AcceptFilter: p.acceptable, Backlog: handshakeBacklog}
	if p.ln, err = lc.Listen("udp", ua); err != nil {
		return nil, fmt.Errorf("server: dtls: listen on %s: %w", addr, err)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Go(p.acceptLoop)
	return p, nil
}

// acceptable lets a ClientHello from a new address open a conn, while
// fewer than MaxSessions are open.
func (p *PacketConn) acceptable(b []byte) bool {
	return clientHello(b) && p.n.Load() < int64(p.c.MaxSessions)
}

// acceptLoop starts each new conn's handshake once a slot is free.
func (p *PacketConn) acceptLoop() {
	for {
		select {
		case p.slots <- struct{}{}:
		case <-p.done:
			return
		}
		raw, err := p.ln.Accept()
		if err != nil {
			<-p.slots
			return // only a closed listener fails Accept
		}
		p.n.Add(1)
		p.wg.Go(func() { p.handshake(raw) })
	}
}

// handshake runs the server's handshake over raw, then reads the
// session's datagrams on this goroutine until it ends.
func (p *PacketConn) handshake(udpConn net.Conn) {
	defer p.n.Add(-1)
	raw := &rawConn{Conn: udpConn}
	ctx, cancel := context.WithTimeout(p.ctx, p.c.HandshakeTimeout)
	dc, err := dtls.ServerWithContext(ctx, raw, p.cfg)
	cancel()
	<-p.slots
	if err != nil {
		p.failed.Add(1)
		raw.Close()
		return
	}
	p.handshakes.Add(1)
	raw.established.Store(true)
	from := udpConn.RemoteAddr().(*net.UDPAddr).AddrPort()
	if !p.add(from, dc) {
		dc.Close()
		return
	}
	p.serve(from, dc)
}

// add registers a session, ending the one its client had at the same
// address; false once closed.
func (p *PacketConn) add(from netip.AddrPort, dc *dtls.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if old := p.sessions[from]; old != nil {
		old.Close()
	}
	p.sessions[from] = dc
	return true
}

// serve hands the session's datagrams to the reader until the session
// ends: the client's close_notify, IdleTimeout without a datagram, a new
// ClientHello from its address, Close.
func (p *PacketConn) serve(from netip.AddrPort, dc *dtls.Conn) {
	defer p.remove(from, dc)
	buf := make([]byte, maxDatagram)
	for {
		dc.SetReadDeadline(time.Now().Add(p.c.IdleTimeout))
		n, err := dc.Read(buf)
		if err != nil {
			return
		}
		select {
		case p.in <- muxed{b: slices.Clone(buf[:n]), from: from}:
		case <-p.done:
			return
		default: // the server's reader is behind: dropped, as UDP drops
		}
	}
}

// remove forgets a session that ended and closes it.
func (p *PacketConn) remove(from netip.AddrPort, dc *dtls.Conn) {
	p.mu.Lock()
	if p.sessions[from] == dc {
		delete(p.sessions, from)
	}
	p.mu.Unlock()
	dc.Close()
}

// ReadFromUDPAddrPort returns the next decrypted datagram and its
// client's address; net.ErrClosed once closed.
func (p *PacketConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	select {
	case d := <-p.in:
		return copy(b, d.b), d.from, nil
	case <-p.done:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

// writeTimeout bounds a datagram's write to a session.
const writeTimeout = time.Second

// WriteToUDPAddrPort protects b with the session of the client at to and
// sends it. A datagram for an address with no session is dropped, as
// UDP to a host that left is, and reported written.
func (p *PacketConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	p.mu.Lock()
	dc, closed := p.sessions[to], p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return 0, net.ErrClosed
	case dc == nil:
		return len(b), nil
	}
	dc.SetWriteDeadline(time.Now().Add(writeTimeout))
	n, err := dc.Write(b)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return n, fmt.Errorf("server: dtls: write to %v: %w", to, err)
	}
	return len(b), nil
}

// Has reports whether a client at addr has a session.
func (p *PacketConn) Has(addr netip.AddrPort) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[addr] != nil
}

// LocalAddr is the address the DTLS listener bound.
func (p *PacketConn) LocalAddr() net.Addr { return p.ln.Addr() }

// Handshakes returns the handshakes completed and failed so far.
func (p *PacketConn) Handshakes() (done, failed uint64) { return p.handshakes.Load(), p.failed.Load() }

// Close ends every session (with close_notify) and the listener, and
// waits for their goroutines. It is idempotent.
func (p *PacketConn) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sessions := p.sessions
	p.sessions = nil
	p.mu.Unlock()
	close(p.done)
	p.cancel()
	err := p.ln.Close()
	for _, dc := range sessions {
		dc.Close()
	}
	p.wg.Wait()
	return err
}
