package netem

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// packetConn is a shaped datagram conn. It is a net.PacketConn and, when
// the underlying conn is connected, a net.Conn.
type packetConn struct {
	pc       net.PacketConn // nil when only nc was given
	nc       net.Conn       // nil for an unconnected PacketConn
	s        *Shaper
	sh       *shard
	up, down *pipe
	task     task
	stats    struct{ up, down counters }

	closing bool // guarded by up.mu
	stopped bool // guarded by up.mu

	wdl    atomic.Int64 // the caller's write deadline, shaper time; 0: none
	rmu    sync.Mutex   // held by a reading call throughout
	rdl    *readDeadline
	closed atomic.Bool
}

func (s *Shaper) newPacketConn(pc net.PacketConn, nc net.Conn, l Link, seed uint64, device int, k uint64) *packetConn {
	sh := s.shard(device)
	c := &packetConn{pc: pc, nc: nc, s: s, sh: sh}
	c.task = task{idx: -1, f: c}
	hdr := udp4Header
	if isIPv6(c.LocalAddr()) {
		hdr = udp6Header
	}
	now := s.now()
	rnd, aux := newSources(seed, device, dirUp, k)
	c.up = newPipe(l.Up, false, hdr, rnd, aux, now, &c.stats.up, &sh.up)
	rnd, aux = newSources(seed, device, dirDown, k)
	c.down = newPipe(l.Down, false, hdr, rnd, aux, now, &c.stats.down, &sh.down)
	set := func(t time.Time) error { return c.under().SetReadDeadline(t) }
	c.rdl = newReadDeadline(s, set)
	return c
}

// under is the underlying conn's common methods.
func (c *packetConn) under() interface {
	Close() error
	LocalAddr() net.Addr
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
} {
	if c.pc != nil {
		return c.pc
	}
	return c.nc
}

func (c *packetConn) remote() net.Addr {
	if c.nc != nil {
		return c.nc.RemoteAddr()
	}
	return nil
}

// ReadFrom returns the next datagram whose shaped arrival time has come,
// waiting on the underlying conn as streamConn.Read does. Loss,
// duplication, corruption and reordering act on each datagram received.
func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.down.identity {
		return c.readDirect(b)
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.closed.Load() {
			return 0, nil, opError("read", c, c.remote(), net.ErrClosed)
		}
		now := c.s.now()
		if c.rdl.expired(now) {
			return 0, nil, opError("read", c, c.remote(), os.ErrDeadlineExceeded)
		}
		c.down.mu.Lock()
		it, ok, wake := c.down.dequeue(now)
		c.down.mu.Unlock()
		if ok {
			n := copy(b, it.buf)
			putBuf(it.buf)
			c.down.count(&c.stats.down.sent, &c.sh.down.sent)
			return n, it.addr, nil
		}
		if err := c.rdl.arm(wake); err != nil {
			continue // closed: reported above
		}
		n, addr, err := c.readUnder(b)
		if err == nil {
			now = c.s.now()
			c.down.mu.Lock()
			c.down.enqueueDatagram(now, b[:n], addr, 0)
			c.down.touchSlot(now)
			c.down.mu.Unlock()
			continue
		}
		if !isTimeout(err) && !c.closed.Load() {
			return 0, nil, err
		}
	}
}

func (c *packetConn) readUnder(b []byte) (int, net.Addr, error) {
	if c.pc != nil {
		return c.pc.ReadFrom(b)
	}
	n, err := c.nc.Read(b)
	return n, c.nc.RemoteAddr(), err
}

func (c *packetConn) readDirect(b []byte) (int, net.Addr, error) {
	if err := c.rdl.arm(0); err != nil {
		return 0, nil, opError("read", c, c.remote(), err)
	}
	n, addr, err := c.readUnder(b)
	if err != nil && c.closed.Load() {
		err = opError("read", c, c.remote(), net.ErrClosed)
	}
	if err == nil {
		c.down.count(&c.stats.down.sent, &c.sh.down.sent)
	}
	return n, addr, err
}

// Read is ReadFrom without the address, for a connected conn.
func (c *packetConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFrom(b)
	return n, err
}

// WriteTo queues a datagram to addr. It never blocks: like the kernel,
// a full queue drops the datagram, and the write still succeeds.
func (c *packetConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return c.write(b, addr)
}

// Write queues a datagram to the connected peer.
func (c *packetConn) Write(b []byte) (int, error) { return c.write(b, nil) }

func (c *packetConn) write(b []byte, addr net.Addr) (int, error) {
	if c.closed.Load() {
		return 0, opError("write", c, addr, net.ErrClosed)
	}
	now := c.s.now()
	if dl := c.wdl.Load(); dl != 0 && now >= dl {
		return 0, opError("write", c, addr, os.ErrDeadlineExceeded)
	}
	if c.up.identity {
		n, err := c.writeUnder(b, addr)
		if err == nil {
			c.up.count(&c.stats.up.sent, &c.sh.up.sent)
		}
		return n, err
	}
	c.up.mu.Lock()
	if c.stopped {
		c.up.mu.Unlock()
		return 0, opError("write", c, addr, ErrStopped)
	}
	old := c.up.nextWake(now)
	c.up.enqueueDatagram(now, b, addr, 0)
	c.up.touchSlot(now)
	wake := c.up.nextWake(now)
	c.up.mu.Unlock()
	if wake != 0 && (old == 0 || wake < old) && !c.sh.schedule(&c.task, wake) {
		c.abort()
		return 0, opError("write", c, addr, ErrStopped)
	}
	return len(b), nil
}

func (c *packetConn) writeUnder(b []byte, addr net.Addr) (int, error) {
	if addr == nil {
		return c.nc.Write(b)
	}
	return c.pc.WriteTo(b, addr)
}

// flush sends the due datagrams; it runs on the shard's goroutine.
func (c *packetConn) flush(now int64) int64 {
	armed := false
	for {
		c.up.mu.Lock()
		it, ok, wake := c.up.dequeue(now)
		c.up.mu.Unlock()
		if !ok {
			return wake
		}
		if it.fin {
			c.under().Close()
			return 0
		}
		if !armed {
			c.under().SetWriteDeadline(time.Now().Add(writeBudget))
			armed = true
		}
		_, err := c.writeUnder(it.buf, it.addr)
		switch {
		case err == nil:
			c.up.count(&c.stats.up.sent, &c.sh.up.sent)
		case isTimeout(err):
			c.up.mu.Lock()
			c.up.unshift(it)
			c.up.mu.Unlock()
			return c.s.now() + writeRetry
		default:
			// A refused or unroutable datagram is lost, as on a link.
			c.up.count(&c.stats.up.dropped, &c.sh.up.dropped)
		}
		putBuf(it.buf)
	}
}

// abort drops the uplink queue after the shard stopped.
func (c *packetConn) abort() {
	c.up.mu.Lock()
	defer c.up.mu.Unlock()
	c.stopped = true
	c.up.drain()
	if c.closing {
		c.under().Close()
	}
}

// Close closes the conn for the caller at once; the underlying conn is
// closed once the queued datagrams have left.
func (c *packetConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return opError("close", c, c.remote(), net.ErrClosed)
	}
	c.rdl.close()
	c.up.mu.Lock()
	c.closing = true
	if c.up.qlen() == 0 || c.stopped {
		c.up.drain()
		c.up.mu.Unlock()
		return c.under().Close()
	}
	now := c.s.now()
	last, _ := c.up.lastTTS()
	c.up.insert(item{fin: true, tts: last})
	c.up.queued(1)
	wake := c.up.nextWake(now)
	c.up.mu.Unlock()
	if !c.sh.schedule(&c.task, wake) {
		c.abort()
	}
	return nil
}

// LocalAddr returns the underlying conn's local address.
func (c *packetConn) LocalAddr() net.Addr { return c.under().LocalAddr() }

// RemoteAddr returns the connected peer's address, nil if unconnected.
func (c *packetConn) RemoteAddr() net.Addr { return c.remote() }

// SetDeadline sets both deadlines.
func (c *packetConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds reads, including the wait for a datagram's due
// time.
func (c *packetConn) SetReadDeadline(t time.Time) error { return c.rdl.setCaller(t) }

// SetWriteDeadline bounds writes; shaped writes never block.
func (c *packetConn) SetWriteDeadline(t time.Time) error {
	c.wdl.Store(c.s.deadline(t))
	if c.up.identity {
		return c.under().SetWriteDeadline(t)
	}
	return nil
}

// Stats returns the conn's counters.
func (c *packetConn) Stats() Stats {
	return Stats{Up: c.stats.up.snapshot(), Down: c.stats.down.snapshot()}
}
