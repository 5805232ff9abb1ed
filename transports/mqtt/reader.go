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
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, poolBuf); return &b }}

// reader frames MQTT packets from a byte stream. It is not safe for
// concurrent use; a session's reader belongs to whichever goroutine reads
// (Connect's caller during the handshake, then the reader goroutine).
type reader struct {
	buf        []byte // buf[start:end] holds bytes read and not yet framed
	start, end int
	pooled     *[]byte // buf's pool handle when buf came from bufPool
	keep       bool    // keep a borrowed buffer between bursts
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

// drained resets an empty buffer, returning a borrowed one to the pool.
func (r *reader) drained() {
	r.start, r.end = 0, 0
	if !r.keep || r.pooled == nil {
		r.release() // an oversized packet's buffer is never kept
	}
}

// release returns a borrowed buffer and falls back to the small one. The
// caller must have no unread bytes in it.
func (r *reader) release() {
	if r.pooled != nil {
		bufPool.Put(r.pooled)
		r.pooled = nil
	}
	r.buf = r.small[:]
}

// reserve makes room for a packet of need bytes starting at r.start, with
// space left to read into.
func (r *reader) reserve(need int) {
	if len(r.buf)-r.start >= need && r.end < len(r.buf) {
		return
	}
	unread := r.end - r.start
	if need <= len(r.buf) && r.pooled != nil {
		copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, unread
		return
	}
	// The small buffer is full: a burst or a big packet. Borrow.
	var nb []byte
	var p *[]byte
	if need <= poolBuf {
		p = bufPool.Get().(*[]byte)
		nb = *p
	} else {
		nb = make([]byte, need)
	}
	copy(nb, r.buf[r.start:r.end])
	if r.pooled != nil {
		bufPool.Put(r.pooled)
	}
	r.buf, r.pooled = nb, p
	r.start, r.end = 0, unread
}
