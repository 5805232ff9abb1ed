package mqtt

import (
	"io"
	"sync"
)

const (
	// smallBuf is the read buffer every session owns. An idle device
	// blocks reading into it, and a burst of acknowledgements (4 bytes
	// each) or a PINGRESP fits, so a quiet fleet holds no other buffer.
	smallBuf = 64
	// poolBuf is the size of the shared buffers a session borrows for
	// bigger packets and bursts, and returns once it has read them all.
	poolBuf = 4096
	// bigBuf is the read buffer of a Backend's connection, which it keeps:
	// it receives a fleet's messages, and one read(2) into 64 KiB carries
	// hundreds of them.
	bigBuf = 64 << 10
)

var (
	bufPool = sync.Pool{New: func() any { b := make([]byte, poolBuf); return &b }}
	bigPool = sync.Pool{New: func() any { b := make([]byte, bigBuf); return &b }}
)

// reader frames MQTT packets from a byte stream. It is not safe for
// concurrent use; a session's reader belongs to whichever goroutine reads
// (Connect's caller during the handshake, then the reader goroutine).
type reader struct {
	buf        []byte // buf[start:end] holds bytes read and not yet framed
	start, end int
	pooled     *[]byte // buf's pool handle when buf came from bufPool or bigPool
	big        bool    // borrow from bigPool, and keep it between bursts
	err        error   // a read error held back until buffered packets are framed
	small      [smallBuf]byte
}

// next returns the first byte and the body of the next packet. body
// aliases the reader's buffer and is valid until the next call.
func (r *reader) next(src io.Reader) (first byte, body []byte, err error) {
	if r.buf == nil {
		r.buf = r.small[:]
	}
	if r.start == r.end {
		r.drained()
	}
	for {
		first, rl, hl, ok, err := parseHeader(r.buf[r.start:r.end])
		if err != nil {
			return 0, nil, err
		}
		need := r.end - r.start + 1 // header incomplete: at least one more byte
		if ok {
			need = hl + rl
			if need > maxInbound {
				return 0, nil, protoErr(first>>4, "packet of %d bytes exceeds the %d byte limit", need, maxInbound)
			}
			if r.end-r.start >= need {
				body = r.buf[r.start+hl : r.start+need]
				r.start += need
				return first, body, nil
			}
		}
		if r.err != nil {
			return 0, nil, r.err
		}
		r.reserve(need)
		n, err := src.Read(r.buf[r.end:])
		r.end += n
		r.err = err
	}
}

// ready reports whether a whole packet (or a bad header) is buffered, so
// that next returns without reading.
func (r *reader) ready() bool {
	_, rl, hl, ok, err := parseHeader(r.buf[r.start:r.end])
	return err != nil || ok && r.end-r.start >= hl+rl
}

// drained resets an empty buffer, returning a borrowed one to the pool.
func (r *reader) drained() {
	r.start, r.end = 0, 0
	if !r.big || r.pooled == nil {
		r.release() // an oversized packet's buffer is never kept
	}
	if r.big && r.pooled == nil {
		r.borrow(bigBuf)
	}
}

// release returns a borrowed buffer and falls back to the small one. The
// caller must have no unread bytes in it.
func (r *reader) release() {
	r.put()
	r.buf = r.small[:]
}

func (r *reader) put() {
	if r.pooled == nil {
		return
	}
	if r.big {
		bigPool.Put(r.pooled)
	} else {
		bufPool.Put(r.pooled)
	}
	r.pooled = nil
}

// borrow replaces the buffer with a pooled one of size bytes (poolBuf or
// bigBuf), or an unpooled one when size is neither, keeping unread bytes.
func (r *reader) borrow(size int) {
	var nb []byte
	var p *[]byte
	switch {
	case r.big && size <= bigBuf:
		p = bigPool.Get().(*[]byte)
	case !r.big && size <= poolBuf:
		p = bufPool.Get().(*[]byte)
	default:
		nb = make([]byte, size)
	}
	if p != nil {
		nb = *p
	}
	unread := copy(nb, r.buf[r.start:r.end])
	r.put()
	r.buf, r.pooled = nb, p
	r.start, r.end = 0, unread
}

// reserve makes room for a packet of need bytes starting at r.start, with
// space left to read into: for a borrowed buffer, at least a quarter of
// it, so that reads stay large.
func (r *reader) reserve(need int) {
	free := len(r.buf) - r.end
	if len(r.buf)-r.start >= need && free > 0 && (r.pooled == nil || free >= len(r.buf)/4 || r.start == 0) {
		return
	}
	if need <= len(r.buf) && r.pooled != nil {
		unread := copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, unread
		return
	}
	// The small buffer is full (a burst or a big packet), or the borrowed
	// one too small for the packet.
	r.borrow(max(need, poolBuf))
}
