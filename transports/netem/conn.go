package netem

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Shard writes give up after writeBudget when the socket is full, so one
// stalled peer never holds up the rest of the shard; the rest of the chunk
// is retried writeRetry later.
const (
	writeBudget = 2 * time.Millisecond
	writeRetry  = int64(5 * time.Millisecond)
)

// streamConn is a shaped stream (TCP) conn.
type streamConn struct {
	c        net.Conn
	s        *Shaper
	sh       *shard
	up, down *pipe
	task     task
	stats    struct{ up, down counters }

	// Uplink state, guarded by up.mu.
	closing bool  // Close was called
	stopped bool  // the shard stopped: the queue was dropped
	werr    error // the underlying Write failed; sticky

	wdl   atomic.Int64  // the caller's write deadline, shaper time; 0: none
	space chan struct{} // cap 1: the queue shrank, or the write deadline moved

	// Downlink state, guarded by rmu, which a Read holds throughout.
	rmu sync.Mutex
	cur item // the item being read
	eof bool // the underlying conn returned an error; its fin is queued

	rdl    *readDeadline
	closed atomic.Bool
	done   chan struct{} // closed by Close
}

func (s *Shaper) newStreamConn(c net.Conn, l Link, seed uint64, device int, k uint64) *streamConn {
	sh := s.shard(device)
	sc := &streamConn{c: c, s: s, sh: sh, space: make(chan struct{}, 1), done: make(chan struct{})}
	sc.task = task{idx: -1, f: sc}
	now := s.now()
	hdr := tcp4Header
	if isIPv6(c.LocalAddr()) {
		hdr = tcp6Header
	}
	rnd, aux := newSources(seed, device, dirUp, k)
	sc.up = newPipe(l.Up, true, hdr, rnd, aux, now, &sc.stats.up, &sh.up)
	rnd, aux = newSources(seed, device, dirDown, k)
	sc.down = newPipe(l.Down, true, hdr, rnd, aux, now, &sc.stats.down, &sh.down)
	sc.rdl = newReadDeadline(s, c.SetReadDeadline)
	return sc
}

// handshake draws the round trip of the TCP handshake: a delay each way,
// plus Linux's 1 s initial RTO, doubling, per lost SYN or SYN-ACK (the
// retransmissions lost at the long-run rate, as chunks' are).
func (c *streamConn) handshake() time.Duration {
	var d int64
	for _, p := range []*pipe{c.up, c.down} {
		p.mu.Lock()
		d += max(0, p.delay.draw(p.rnd))
		rto := int64(time.Second)
		for i := 0; i < 6 && p.lost(i); i++ {
			d += rto
			rto *= 2
		}
		p.mu.Unlock()
	}
	return time.Duration(d)
}

// Read returns the data whose shaped arrival time has come. It blocks on
// the underlying conn, stamping each chunk as it arrives, with a read
// deadline at the earliest chunk's due time, so the caller's goroutine is
// the only one waiting.
func (c *streamConn) Read(b []byte) (int, error) {
	if c.down.identity {
		return c.readDirect(b)
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.closed.Load() {
			return 0, opError("read", c, c.RemoteAddr(), net.ErrClosed)
		}
		now := c.s.now()
		if c.rdl.expired(now) {
			return 0, opError("read", c, c.RemoteAddr(), os.ErrDeadlineExceeded)
		}
		if len(b) == 0 {
			return 0, nil
		}
		if n, err, ok := c.take(b, now); ok {
			return n, err
		}
		c.down.mu.Lock()
		wake := c.down.nextWake(now)
		c.down.mu.Unlock()
		if c.eof {
			c.sleep(wake, now)
			continue
		}
		if err := c.rdl.arm(wake); err != nil {
			continue // closed: reported above
		}
		n, err := c.c.Read(b)
		now = c.s.now()
		c.down.mu.Lock()
		if n > 0 {
			c.down.enqueueChunk(now, b[:n], true)
		}
		if err != nil && !isTimeout(err) && !c.closed.Load() {
			c.down.enqueueFin(now, err)
			c.eof = true
		}
		c.down.mu.Unlock()
	}
}

// take copies due data into b; ok is false when nothing is due.
func (c *streamConn) take(b []byte, now int64) (n int, err error, ok bool) {
	for n < len(b) {
		if c.cur.off < len(c.cur.buf) {
			k := copy(b[n:], c.cur.buf[c.cur.off:])
			c.cur.off += k
			n += k
			if c.cur.off == len(c.cur.buf) {
				putBuf(c.cur.buf)
				c.cur = item{}
			}
			continue
		}
		if c.cur.fin {
			if n > 0 {
				return n, nil, true
			}
			return 0, c.cur.err, true
		}
		c.down.mu.Lock()
		it, due, _ := c.down.dequeue(now)
		c.down.mu.Unlock()
		if !due {
			break
		}
		if !it.fin {
			c.down.count(&c.stats.down.sent, &c.sh.down.sent)
		}
		c.cur = it
	}
	return n, nil, n > 0
}

// sleep waits, once the underlying conn has ended, for the queued data's
// due time, the caller's deadline or Close. A deadline moved during the
// wait counts from the next Read on.
func (c *streamConn) sleep(wake, now int64) {
	until := earliest(wake, c.rdl.callerDeadline())
	if until == 0 {
		<-c.done
		return
	}
	t := time.NewTimer(time.Duration(until - now))
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.done:
	}
}

func (c *streamConn) readDirect(b []byte) (int, error) {
	if err := c.rdl.arm(0); err != nil {
		return 0, opError("read", c, c.RemoteAddr(), err)
	}
	n, err := c.c.Read(b)
	if err != nil && c.closed.Load() {
		err = opError("read", c, c.RemoteAddr(), net.ErrClosed)
	}
	if n > 0 {
		c.down.count(&c.stats.down.sent, &c.sh.down.sent)
	}
	return n, err
}

// Write queues b for the shard to send when due and returns at once,
// unless the queue holds Limit chunks: then it blocks until there is room,
// the write deadline passes or the conn is closed.
func (c *streamConn) Write(b []byte) (int, error) {
	if c.up.identity {
		return c.writeDirect(b)
	}
	if len(b) == 0 {
		return 0, c.writeErr()
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		now := c.s.now()
		if queued, err := c.enqueue(b, now); queued || err != nil {
			return len(b) * btoi(queued), err
		}
		timer = c.waitRoom(timer, now)
	}
}

// TryWrite is Write without the wait: it queues all of b, or nothing when
// the queue holds Limit chunks (or, on an unshaped uplink, writes what
// the socket takes at once), and returns how much it took. A protocol
// session uses it so that a full link never blocks the goroutine that
// writes for thousands of devices.
func (c *streamConn) TryWrite(b []byte) (int, error) {
	if c.up.identity {
		return c.tryWriteDirect(b)
	}
	if len(b) == 0 {
		return 0, c.writeErr()
	}
	queued, err := c.enqueue(b, c.s.now())
	return len(b) * btoi(queued), err
}

// enqueue queues b at now unless the queue is full or the conn failed.
func (c *streamConn) enqueue(b []byte, now int64) (queued bool, err error) {
	c.up.mu.Lock()
	if err := c.writeErrLocked(now); err != nil {
		c.up.mu.Unlock()
		return false, err
	}
	wasEmpty := c.up.qlen() == 0
	if !c.up.enqueueChunk(now, b, false) {
		c.up.mu.Unlock()
		return false, nil
	}
	wake := c.up.nextWake(now)
	if c.up.qlen() < c.up.p.Limit {
		c.signal() // let another blocked writer in
	}
	c.up.mu.Unlock()
	if wasEmpty && !c.sh.schedule(&c.task, wake) {
		c.abort()
		return false, opError("write", c, c.RemoteAddr(), ErrStopped)
	}
	return true, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waitRoom blocks until the queue may have room, the write deadline
// passes or the conn closes.
func (c *streamConn) waitRoom(timer *time.Timer, now int64) *time.Timer {
	var expire <-chan time.Time
	if dl := c.wdl.Load(); dl != 0 {
		if timer == nil {
			timer = time.NewTimer(time.Duration(dl - now))
		} else {
			timer.Reset(time.Duration(dl - now))
		}
		expire = timer.C
	}
	select {
	case <-c.space:
	case <-expire:
	case <-c.done:
	}
	return timer
}

func (c *streamConn) writeErr() error {
	c.up.mu.Lock()
	defer c.up.mu.Unlock()
	return c.writeErrLocked(c.s.now())
}

func (c *streamConn) writeErrLocked(now int64) error {
	switch {
	case c.closing:
		return opError("write", c, c.RemoteAddr(), net.ErrClosed)
	case c.werr != nil:
		return c.werr
	case c.stopped:
		return opError("write", c, c.RemoteAddr(), ErrStopped)
	}
	if dl := c.wdl.Load(); dl != 0 && now >= dl {
		return opError("write", c, c.RemoteAddr(), os.ErrDeadlineExceeded)
	}
	return nil
}

func (c *streamConn) writeDirect(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, opError("write", c, c.RemoteAddr(), net.ErrClosed)
	}
	n, err := c.c.Write(b)
	if n > 0 {
		c.up.count(&c.stats.up.sent, &c.sh.up.sent)
	}
	return n, err
}

// tryWriteDirect writes what the underlying socket takes at once. An
// underlying conn that is not a *net.TCPConn takes nothing this way: the
// caller falls back to Write.
func (c *streamConn) tryWriteDirect(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, opError("write", c, c.RemoteAddr(), net.ErrClosed)
	}
	n, err := tryWriteTCP(c.c, b)
	if n > 0 {
		c.up.count(&c.stats.up.sent, &c.sh.up.sent)
	}
	return n, err
}

// signal wakes one writer waiting for room, if any.
func (c *streamConn) signal() {
	select {
	case c.space <- struct{}{}:
	default:
	}
}

// flush writes the due chunks; it runs on the shard's goroutine.
func (c *streamConn) flush(now int64) int64 {
	defer c.signal()
	armed := false
	for {
		c.up.mu.Lock()
		it, ok, wake := c.up.dequeue(now)
		c.up.mu.Unlock()
		if !ok {
			return wake
		}
		if it.fin {
			c.c.Close()
			return 0
		}
		if !armed {
			c.c.SetWriteDeadline(time.Now().Add(writeBudget))
			armed = true
		}
		n, err := c.c.Write(it.buf[it.off:])
		if err != nil {
			return c.writeFailed(it, n, err)
		}
		putBuf(it.buf)
		c.up.count(&c.stats.up.sent, &c.sh.up.sent)
	}
}

// writeFailed keeps the rest of a chunk the socket had no room for, or
// gives up the queue on a real error.
func (c *streamConn) writeFailed(it item, n int, err error) int64 {
	c.up.mu.Lock()
	defer c.up.mu.Unlock()
	if isTimeout(err) {
		it.off += n
		c.up.unshift(it)
		return c.s.now() + writeRetry
	}
	putBuf(it.buf)
	c.werr = err
	c.up.drain()
	if c.closing {
		c.c.Close()
	}
	return 0
}

// abort drops the uplink queue after the shard stopped.
func (c *streamConn) abort() {
	c.up.mu.Lock()
	defer c.up.mu.Unlock()
	c.stopped = true
	c.up.drain()
	if c.closing {
		c.c.Close()
	}
	c.signal()
}

// Close closes the conn for the caller at once; the underlying conn is
// closed once the queued uplink data, and the FIN after it, have crossed
// the link.
func (c *streamConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return opError("close", c, c.RemoteAddr(), net.ErrClosed)
	}
	close(c.done)
	c.rdl.close()
	c.up.mu.Lock()
	c.closing = true
	if c.up.identity || c.werr != nil || c.stopped {
		c.up.mu.Unlock()
		return c.c.Close()
	}
	wasEmpty := c.up.qlen() == 0
	c.up.enqueueFin(c.s.now(), nil)
	wake := c.up.nextWake(c.s.now())
	c.up.mu.Unlock()
	if wasEmpty && !c.sh.schedule(&c.task, wake) {
		c.abort()
	}
	return nil
}

// LocalAddr returns the underlying conn's local address.
func (c *streamConn) LocalAddr() net.Addr { return c.c.LocalAddr() }

// RemoteAddr returns the underlying conn's remote address.
func (c *streamConn) RemoteAddr() net.Addr { return c.c.RemoteAddr() }

// SetDeadline sets both deadlines.
func (c *streamConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds Read, including its wait for a chunk's due
// time.
func (c *streamConn) SetReadDeadline(t time.Time) error { return c.rdl.setCaller(t) }

// SetWriteDeadline bounds a Write waiting for room in the queue; queued
// data is sent whatever the deadline.
func (c *streamConn) SetWriteDeadline(t time.Time) error {
	c.wdl.Store(c.s.deadline(t))
	if c.up.identity {
		return c.c.SetWriteDeadline(t)
	}
	c.signal()
	return nil
}

// Stats returns the conn's counters.
func (c *streamConn) Stats() Stats {
	return Stats{Up: c.stats.up.snapshot(), Down: c.stats.down.snapshot()}
}

func isIPv6(a net.Addr) bool {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	default:
		return false
	}
	return ip != nil && ip.To4() == nil
}
