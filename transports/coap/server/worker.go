package server

import (
	"encoding/binary"
	"errors"

	"github.com/m2msim/m2msim/transports/coap"
)

// worker handles the datagrams of the clients that hash to it, one at a
// time, so their order holds and its duplicate cache and uploads need no
// lock. Its buffers are reused: a request costs no allocation unless it
// creates or writes a resource.
type worker struct {
	s       *Server
	in      chan *datagram
	req     coap.Message
	resp    coap.Message
	out     []byte
	arena   []byte // the response's option values
	path    []byte // the request's path, "/a/b"
	dedup   dedup
	uploads map[uploadKey]*upload
	mid     uint16 // message ids of NON responses
}

// effect is what a handled request changed, acted on once its response
// is sent.
type effect struct {
	changed bool
	deleted string // the path of a deleted resource
	snap    resource
	body    []byte // what the client wrote, for OnUpdate
}

func newWorker(s *Server, i int) *worker {
	return &worker{s: s, in: make(chan *datagram, s.c.QueueLen), arena: make([]byte, 0, 64),
		dedup:   newDedup(s.c.DedupEntries, s.c.ExchangeLifetime),
		uploads: make(map[uploadKey]*upload), mid: uint16(s.c.Seed>>16) + uint16(i)<<12}
}

// run handles datagrams until the reader closes the queue.
func (w *worker) run() {
	for d := range w.in {
		w.handle(d)
		w.s.release(d)
	}
}

// handle acts on one datagram.
func (w *worker) handle(d *datagram) {
	m := &w.req
	if err := coap.Decode(d.b[:d.n], m); err != nil {
		w.s.st.add(cMalformed)
		w.rejectMalformed(d)
		return
	}
	switch {
	case m.Type == coap.Acknowledgement || m.Type == coap.Reset:
		w.s.obs.answered(d.from, m.MessageID, m.Type == coap.Reset)
	case m.Code == coap.Empty && m.Type == coap.Confirmable:
		w.empty(coap.Reset, m.MessageID, d.from) // a ping (RFC 7252 §4.3)
	case m.Code.IsRequest():
		w.request(d)
	case m.Type == coap.Confirmable:
		w.empty(coap.Reset, m.MessageID, d.from) // a response sent to the server: nothing of ours
	}
}

// rejectMalformed answers a confirmable message that does not parse
// with RST (RFC 7252 §4.2), when its header can be read.
func (w *worker) rejectMalformed(d *datagram) {
	if d.n >= 4 && d.b[0]>>6 == 1 && d.b[0]>>4&3 == byte(coap.Confirmable) {
		w.empty(coap.Reset, binary.BigEndian.Uint16(d.b[2:]), d.from)
	}
}

// empty sends an empty ACK or RST for mid.
func (w *worker) empty(typ coap.Type, mid uint16, to endpoint) {
	w.out = append(w.out[:0], 1<<6|byte(typ)<<4, 0)
	w.out = binary.BigEndian.AppendUint16(w.out, mid)
	w.s.send(w.out, to)
}

// request answers a request, from the cache when it is a duplicate.
func (w *worker) request(d *datagram) {
	m := &w.req
	if dup, reply := w.dedup.lookup(d.from, m.MessageID, d.at); dup {
		w.s.st.add(cDuplicates)
		if reply != nil {
			w.s.send(reply, d.from)
		}
		return
	}
	w.s.st.method(m.Code)
	w.resp = coap.Message{Options: w.resp.Options[:0]}
	w.arena = w.arena[:0]
	eff := w.serve(d)
	w.respond(d)
	w.after(eff, d)
}

// respond encodes and sends w.resp as the answer to w.req, and
// remembers it for duplicates.
func (w *worker) respond(d *datagram) {
	m, r := &w.req, &w.resp
	r.Token = m.Token
	if m.Type == coap.Confirmable {
		r.Type, r.MessageID = coap.Acknowledgement, m.MessageID
	} else {
		r.Type, r.MessageID = coap.NonConfirmable, w.mid
		w.mid++
	}
	var err error
	if w.out, err = r.AppendBinary(w.out[:0]); err != nil {
		*r = coap.Message{Type: r.Type, Code: coap.InternalServerError, MessageID: r.MessageID, Token: r.Token}
		w.out, _ = r.AppendBinary(w.out[:0])
	}
	if !suppressed(m, r.Code) {
		w.s.send(w.out, d.from)
		w.s.st.code(r.Code)
	}
	if m.Type == coap.Confirmable {
		w.dedup.store(d.from, m.MessageID, d.at, w.out)
	} else {
		w.dedup.store(d.from, m.MessageID, d.at, nil)
	}
}

// suppressed reports whether a NON request's No-Response option (RFC
// 7967) suppresses a response with code c.
func suppressed(m *coap.Message, c coap.Code) bool {
	v, ok := m.Uint(coap.NoResponse)
	if !ok || m.Type != coap.NonConfirmable {
		return false
	}
	return v&(1<<(c.Class()-1)) != 0 // 2 for 2.xx, 8 for 4.xx, 16 for 5.xx
}

// after notifies the observers of what the request changed and tells
// OnUpdate.
func (w *worker) after(eff effect, d *datagram) {
	switch {
	case eff.deleted != "":
		w.s.obs.gone(eff.deleted)
	case eff.changed:
		w.s.obs.notify(eff.snap)
		if f := w.s.update.Load(); f != nil {
			(*f)(eff.snap.path, eff.body, d.from.netAddr(), d.at)
		}
	}
}

// serve handles w.req, leaving the response in w.resp.
func (w *worker) serve(d *datagram) effect {
	m := &w.req
	if code, ok := w.checkOptions(); !ok {
		w.resp.Code = code
		return effect{}
	}
	w.buildPath()
	switch m.Code {
	case coap.GET:
		w.get(d)
	case coap.PUT, coap.POST:
		return w.write(d)
	case coap.DELETE:
		return w.remove()
	default:
		w.resp.Code = coap.MethodNotAllowed
	}
	return effect{}
}

// checkOptions refuses a request with a critical option the server does
// not know (RFC 7252 §5.4.1) or one asking it to proxy.
func (w *worker) checkOptions() (coap.Code, bool) {
	for _, o := range w.req.Options {
		switch o.ID {
		case coap.ProxyURI, coap.ProxyScheme:
			return coap.ProxyingNotSupported, false
		case coap.IfMatch, coap.URIHost, coap.IfNoneMatch, coap.URIPort, coap.URIPath, coap.URIQuery,
			coap.Block2, coap.Block1:
		default:
			if o.ID.Critical() {
				return coap.BadOption, false
			}
		}
	}
	return 0, true
}

// buildPath sets w.path from the Uri-Path options: "/" for none.
func (w *worker) buildPath() {
	w.path = w.path[:0]
	for _, o := range w.req.Options {
		if o.ID == coap.URIPath {
			w.path = append(w.path, '/')
			w.path = append(w.path, o.Value...)
		}
	}
	if len(w.path) == 0 {
		w.path = append(w.path, '/')
	}
}

// get reads a resource, registering or deregistering an observer on
// request (RFC 7641 §3.1, §3.6).
func (w *worker) get(d *datagram) {
	m := &w.req
	if string(w.path) == "/.well-known/core" {
		w.content(resource{payload: w.s.store.links(), format: coap.LinkFormat})
		return
	}
	obs, hasObs := m.Uint(coap.Observe)
	st := &w.s.store
	// Registering under the store's lock: a write that follows is sure
	// to notify the new observer, one that precedes is in the response.
	st.mu.RLock()
	r, ok := st.res[string(w.path)]
	var snap resource
	registered := false
	if ok {
		snap = *r
		registered = hasObs && obs == 0 && w.s.obs.register(d.from, m.Token, r.path)
	}
	st.mu.RUnlock()
	if hasObs && obs == 1 {
		w.s.obs.deregister(d.from, m.Token)
	}
	if !ok {
		w.resp.Code = coap.NotFound
		return
	}
	if registered {
		w.addUint(coap.Observe, snap.seq)
	}
	w.content(snap)
}

// write handles PUT and POST: whole, or one block of a Block1 upload.
func (w *worker) write(d *datagram) effect {
	m := &w.req
	if code, ok := w.preconditions(); !ok {
		w.resp.Code = code
		return effect{}
	}
	if v, ok := m.Option(coap.Block1); ok {
		return w.block1(d, v)
	}
	if len(m.Payload) > w.s.c.BlockSize {
		// Larger than the server takes in one message: ask for blocks
		// (RFC 7959 §2.9.3).
		w.resp.Code = coap.RequestEntityTooLarge
		w.addUint(coap.Block1, blockValue(coap.Block{SZX: w.s.c.szx()}))
		return effect{}
	}
	return w.apply(m.Payload, false)
}

// preconditions checks If-Match and If-None-Match (RFC 7252 §5.10.8).
func (w *worker) preconditions() (coap.Code, bool) {
	m := &w.req
	match, hasMatch := m.Option(coap.IfMatch)
	_, hasNone := m.Option(coap.IfNoneMatch)
	if !hasMatch && !hasNone {
		return 0, true
	}
	r, exists := w.s.store.get(w.path)
	switch {
	case hasNone && exists, hasMatch && !exists:
		return coap.PreconditionFailed, false
	case hasMatch && len(match) > 0 && string(match) != string(putUint(nil, r.etag)):
		return coap.PreconditionFailed, false
	}
	return 0, true
}

// apply stores a whole body: PUT replaces, POST appends to (or creates)
// the resource.
func (w *worker) apply(body []byte, own bool) effect {
	m := &w.req
	format := int32(-1)
	if v, ok := m.Uint(coap.ContentFormat); ok {
		format = int32(v)
	}
	created, snap, added, err := w.s.store.write(w.path, body, own, m.Code == coap.POST, format)
	switch {
	case errors.Is(err, ErrTooLarge):
		w.resp.Code = coap.RequestEntityTooLarge
		w.addUint(coap.Size1, uint32(w.s.c.MaxResourceSize))
		return effect{}
	case err != nil:
		w.resp.Code = coap.ServiceUnavailable
		return effect{}
	case !created:
		w.resp.Code = coap.Changed
	default:
		w.resp.Code = coap.Created
		if m.Code == coap.POST {
			w.locate()
		}
	}
	return effect{changed: true, snap: snap, body: added}
}

// locate names a resource created by POST in Location-Path options.
func (w *worker) locate() {
	for _, o := range w.req.Options {
		if o.ID == coap.URIPath {
			w.resp.AddOption(coap.LocationPath, o.Value)
		}
	}
}

// remove handles DELETE: 2.02 Deleted whether or not the resource
// existed, as RFC 7252 §5.8.4 asks.
func (w *worker) remove() effect {
	w.resp.Code = coap.Deleted
	path, ok := w.s.store.remove(w.path)
	if !ok {
		return effect{}
	}
	return effect{deleted: path}
}

// addUint adds an unsigned option to the response, its value kept in
// the worker's arena.
func (w *worker) addUint(id coap.OptionID, v uint32) {
	start := len(w.arena)
	w.arena = putUint(w.arena, v)
	w.resp.AddOption(id, w.arena[start:len(w.arena):len(w.arena)])
}

// putUint appends v in the fewest bytes (RFC 7252 §3.2: none for 0).
func putUint(b []byte, v uint32) []byte {
	switch {
	case v == 0:
		return b
	case v < 1<<8:
		return append(b, byte(v))
	case v < 1<<16:
		return append(b, byte(v>>8), byte(v))
	case v < 1<<24:
		return append(b, byte(v>>16), byte(v>>8), byte(v))
	}
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
