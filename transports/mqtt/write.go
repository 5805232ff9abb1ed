package mqtt

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Writes never block the caller. A packet goes straight to the socket with
// one non-blocking write when nothing is waiting before it; whatever the
// socket cannot take goes to the session's backlog, and one flusher
// goroutine, started for that backlog only, writes it with ordinary
// blocking writes bounded by Options.Timeout. The engine calls Publish,
// Ping and Close for thousands of devices from a few goroutines: one
// stalled broker socket must not hold up the rest.

// TryWriter is the optional capability of a net.Conn that can write
// without blocking: TryWrite writes what the conn can take at once and
// returns how much; n < len(b) with a nil error means that the rest would
// block. Sessions use it for conns other than *net.TCPConn (whose
// non-blocking write they do themselves); on a conn without it, every
// write goes through the flusher goroutine, and Close sends no
// DISCONNECT.
type TryWriter interface {
	TryWrite(b []byte) (n int, err error)
}

// defaultSendBuffer is Options.SendBuffer's default: a few hundred
// PUBLISHes of telemetry, or one 256 KiB firmware chunk, on top of what
// the kernel's socket buffer holds.
const defaultSendBuffer = 256 << 10

// backlog is what a session's socket could not take yet. It exists, with
// its flusher goroutine, only while bytes wait, so an idle session pays
// one nil pointer for it.
type backlog struct {
	out      *[]byte       // bytes not yet handed to the flusher, from outPool; nil when none
	flushing int           // bytes the flusher is writing now
	done     chan struct{} // closed when the flusher has exited
}

// tryWrite writes what the socket takes of b at once. ok is false when the
// conn has no way to write without blocking.
func (s *Session) tryWrite(b []byte) (n int, err error, ok bool) {
	if s.raw != nil {
		n, err = rawTryWrite(s.raw, b)
		return n, err, true
	}
	if tw, isTW := s.conn.(TryWriter); isTW {
		n, err = tw.TryWrite(b)
		return n, err, true
	}
	return 0, nil, false
}

// sendLocked writes b without blocking, keeping what the socket cannot
// take for the flusher. A limited send (PUBLISH) is refused with a
// SendBufferFullError when bytes are already waiting and b would take them
// past the limit; control packets are never refused. s.wmu must be held;
// b is not retained.
func (s *Session) sendLocked(b []byte, limited bool) error {
	if s.werr != nil {
		return s.werr
	}
	if bl := s.bl; bl != nil { // b goes after what waits
		if waiting := bl.size(); limited && waiting+len(b) > s.sendBuf {
			return SendBufferFullError{Buffered: waiting, Packet: len(b), Limit: s.sendBuf}
		}
		bl.queue(b)
		return nil
	}
	n, err, ok := s.tryWrite(b)
	if err != nil {
		return s.failLocked(err)
	}
	if ok && n == len(b) {
		return nil
	}
	s.bl = &backlog{done: make(chan struct{})}
	s.bl.queue(b[n:])
	go s.flush(s.bl)
	return nil
}

// failLocked ends the stream after a write error: a partial packet leaves
// it unusable. The reader reports Lost with this cause. s.wmu must be
// held.
func (s *Session) failLocked(err error) error {
	if s.werr == nil {
		s.werr = fmt.Errorf("mqtt: write: %w", err)
	}
	s.conn.Close()
	return s.werr
}

// size returns the bytes waiting.
func (bl *backlog) size() int {
	n := bl.flushing
	if bl.out != nil {
		n += len(*bl.out)
	}
	return n
}

func (bl *backlog) queue(b []byte) {
	if bl.out == nil {
		bl.out = outPool.Get().(*[]byte)
	}
	*bl.out = append(*bl.out, b...)
}

// flush is the session's flusher goroutine: it writes bl until it is
// empty, then exits and closes bl.done. It exits as soon as a write fails,
// which ends the session; a write fails when no byte goes out for
// Options.Timeout.
func (s *Session) flush(bl *backlog) {
	defer close(bl.done)
	s.wmu.Lock()
	for s.werr == nil && bl.out != nil {
		buf := bl.out
		bl.out, bl.flushing = nil, len(*buf)
		s.wmu.Unlock()
		err := s.writeAll(*buf)
		putBuf(buf)
		s.wmu.Lock()
		bl.flushing = 0
		if err != nil {
			s.failLocked(err)
		}
	}
	if bl.out != nil { // the session failed: nobody will send these
		putBuf(bl.out)
		bl.out = nil
	}
	// The deadline armed by writeAll must not refuse later non-blocking
	// writes, which check it too.
	s.conn.SetWriteDeadline(time.Time{})
	s.bl = nil
	s.wmu.Unlock()
}

// writeAll writes b, giving up when no byte goes out for s.timeout.
func (s *Session) writeAll(b []byte) error {
	for {
		s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
		n, err := s.conn.Write(b)
		b = b[n:]
		if err == nil || len(b) == 0 {
			return nil
		}
		if n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
}

// outPool holds empty write buffers: PUBLISH encodings, backlogs and
// batches of acknowledgements.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, poolBuf); return &b }}

// maxPooledWrite caps the write buffers returned to the pool, so one huge
// payload does not pin a huge buffer.
const maxPooledWrite = 64 << 10

// putBuf returns a write buffer to outPool unless it grew too big to keep.
func putBuf(b *[]byte) {
	if cap(*b) <= maxPooledWrite {
		*b = (*b)[:0]
		outPool.Put(b)
	}
}
