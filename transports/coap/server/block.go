package server

import (
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// uploadKey names a Block1 upload: the client and the resource (RFC 7959
// §2.5 matches blocks by endpoint and request options).
type uploadKey struct {
	from endpoint
	path string
}

// upload is a Block1 upload in progress: the blocks received so far.
type upload struct {
	body []byte
	last time.Time // when its latest block arrived
}

func blockValue(b coap.Block) uint32 {
	v := b.Num<<4 | uint32(b.SZX&7)
	if b.More {
		v |= 8
	}
	return v
}

// content puts a representation in the response: whole, or the block
// the request asks for (Block2), in the smaller of the client's and the
// server's block sizes (RFC 7959 §2.4). A block carries the ETag of its
// version, so a client notices a change between blocks, and Size2.
func (w *worker) content(snap resource) {
	m := &w.req
	b, hasBlock := coap.Block{}, false
	if v, ok := m.Option(coap.Block2); ok {
		var err error
		if b, err = coap.ParseBlock(v); err != nil {
			w.badRequest()
			return
		}
		hasBlock = true
	}
	szx := w.s.c.szx()
	if hasBlock && b.SZX < szx {
		szx = b.SZX
	}
	size, p := 1<<(szx+4), snap.payload
	if !hasBlock && len(p) <= size {
		w.representation(snap, p)
		return
	}
	off := int(b.Num) << (b.SZX + 4)
	if off > 0 && off >= len(p) {
		w.badOption() // a block past the end
		return
	}
	end := min(off+size, len(p))
	w.addUint(coap.ETag, snap.etag)
	w.addUint(coap.Block2, blockValue(coap.Block{Num: uint32(off >> (szx + 4)), More: end < len(p), SZX: szx}))
	w.addUint(coap.Size2, uint32(len(p)))
	w.representation(snap, p[off:end])
}

// representation sets a 2.05 response with payload and snap's format.
func (w *worker) representation(snap resource, payload []byte) {
	w.resp.Code = coap.Content
	if snap.format >= 0 {
		w.addUint(coap.ContentFormat, uint32(snap.format))
	}
	w.resp.Payload = payload
}

// badRequest and badOption replace the response with an error, dropping
// the options set so far.
func (w *worker) badRequest() {
	w.resp = coap.Message{Code: coap.BadRequest, Options: w.resp.Options[:0]}
}

func (w *worker) badOption() {
	w.resp = coap.Message{Code: coap.BadOption, Options: w.resp.Options[:0]}
}

// block1 takes one block of an upload (RFC 7959 §2.5): 2.31 Continue
// until the last, which applies the whole body. The server answers in
// its own block size when the client's is larger (§2.3: the client then
// counts blocks in that size), 4.08 to a block out of sequence, 4.13
// with Size1 past MaxResourceSize.
func (w *worker) block1(d *datagram, v []byte) effect {
	m := &w.req
	b, err := coap.ParseBlock(v)
	if err != nil || b.More && len(m.Payload) != b.Size() {
		w.badRequest()
		return effect{}
	}
	key := uploadKey{from: d.from, path: string(w.path)}
	if b.Num == 0 && !w.begin(key, d.at) {
		return effect{}
	}
	up := w.uploads[key]
	switch {
	case up == nil || int(b.Num)<<(b.SZX+4) != len(up.body):
		delete(w.uploads, key)
		w.resp.Code = coap.RequestEntityIncomplete
		return effect{}
	case len(up.body)+len(m.Payload) > w.s.c.MaxResourceSize:
		delete(w.uploads, key)
		w.tooLarge()
		return effect{}
	}
	up.body = append(up.body, m.Payload...)
	up.last = d.at
	echo := coap.Block{Num: b.Num, More: b.More, SZX: min(b.SZX, w.s.c.szx())}
	if b.More {
		w.resp.Code = coap.Continue
		w.addUint(coap.Block1, blockValue(echo))
		return effect{}
	}
	delete(w.uploads, key)
	eff := w.apply(up.body, true)
	if eff.changed {
		w.addUint(coap.Block1, blockValue(echo))
	}
	return eff
}

// begin starts an upload at its first block, false (with the response
// set) when it is refused: too large by its Size1, or too many uploads.
func (w *worker) begin(key uploadKey, now time.Time) bool {
	size, _ := w.req.Uint(coap.Size1)
	if int(size) > w.s.c.MaxResourceSize {
		w.tooLarge()
		return false
	}
	if _, ok := w.uploads[key]; !ok && len(w.uploads) >= w.maxUploads() {
		w.expire(now)
		if len(w.uploads) >= w.maxUploads() {
			w.resp.Code = coap.ServiceUnavailable
			return false
		}
	}
	w.uploads[key] = &upload{body: make([]byte, 0, min(int(size), w.s.c.MaxResourceSize)), last: now}
	return true
}

// maxUploads is the worker's share of Config.MaxUploads.
func (w *worker) maxUploads() int { return max(1, w.s.c.MaxUploads/w.s.c.Workers) }

// expire forgets the uploads idle for longer than the exchange lifetime.
func (w *worker) expire(now time.Time) {
	for k, up := range w.uploads {
		if now.Sub(up.last) > w.s.c.ExchangeLifetime {
			delete(w.uploads, k)
		}
	}
}

// tooLarge answers 4.13 with the limit in Size1.
func (w *worker) tooLarge() {
	w.resp.Code = coap.RequestEntityTooLarge
	w.addUint(coap.Size1, uint32(w.s.c.MaxResourceSize))
}
