package coap

import (
	"encoding/binary"
	"net"
	"sync"
)

// flightJoiner works around a pion/dtls/v2 client bug that a session
// store triggers. With Config.SessionStore set, the client parses the
// server's ServerHello again on every datagram of the server's flight,
// and from the second on mistakes the session id it adopted on the first
// for one it offered: a full handshake whose flight spans datagrams
// (libcoap's gnutls build sends every message in a datagram of its own;
// its OpenSSL build splits certificate flights) then waits for a
// resumption's Finished that never comes, until the handshake times out.
// (pion/dtls/v3 checks the id against the offered session instead.)
// Handing pion that flight whole, in one read, lets it parse the flight
// once: the joiner holds back a datagram that starts with a ServerHello
// until every message up to the ServerHelloDone has arrived (the server
// resends its flight when the client resends its own, every
// FlightInterval), dropping records it already has. It sits beneath the
// DTLS conn, on the dialed socket, and touches nothing else; reads happen
// on pion's one read goroutine, so it needs no lock.
type flightJoiner struct {
	net.Conn
	pending []byte // a datagram read but not delivered: it did not fit
}

// DTLS record layer (RFC 6347 §4.1) and handshake (§4.2.2) constants.
const (
	recordHeaderLen    = 13
	handshakeHeaderLen = 12
	contentHandshake   = 22
	msgServerHello     = 2
	msgServerHelloDone = 14
	maxFragments       = 32 // a flight with more is handed over as it is
)

// joinBuffers holds the scratch buffers a flight is read into beyond the
// first datagram, as large as pion's own read buffer.
var joinBuffers = sync.Pool{New: func() any { b := make([]byte, 8192); return &b }}

// Read reads a datagram; one that starts with a ServerHello is joined
// with the rest of its flight.
func (j *flightJoiner) Read(b []byte) (int, error) {
	if j.pending != nil {
		n := copy(b, j.pending)
		j.pending = nil
		return n, nil
	}
	n, err := j.Conn.Read(b)
	if err != nil || !startsServerHello(b[:n]) {
		return n, err
	}
	return j.join(b, n)
}

// join reads the rest of the flight whose first datagram is b[:n], until
// the flight is complete or a record of another kind (ChangeCipherSpec,
// an alert) ends it. A datagram that does not fit is kept for the next
// Read.
func (j *flightJoiner) join(b []byte, n int) (int, error) {
	var f flight
	f.scan(b[:n])
	bp := joinBuffers.Get().(*[]byte)
	defer joinBuffers.Put(bp)
	for !f.complete() {
		m, err := j.Conn.Read(*bp)
		if err != nil {
			return 0, err
		}
		var ok bool
		if n, ok = f.add(b, n, (*bp)[:m]); !ok {
			j.pending = append([]byte(nil), (*bp)[:m]...)
			return n, nil
		}
	}
	return n, nil
}

// startsServerHello reports a datagram whose first record is an
// unencrypted handshake record holding a ServerHello.
func startsServerHello(d []byte) bool {
	return len(d) > recordHeaderLen && d[0] == contentHandshake &&
		d[3] == 0 && d[4] == 0 && d[recordHeaderLen] == msgServerHello
}

// fragment is a handshake message fragment (RFC 6347 §4.2.2).
type fragment struct {
	typ       byte
	seq       uint16
	off, size uint32 // of the fragment
	total     uint32 // the message's length
}

// flight is what has arrived of the server's hello flight.
type flight struct {
	frags [maxFragments]fragment
	n     int
	other bool // a record that is not an unencrypted handshake one, or unparsable
}

// scan records the fragments of the records in d.
func (f *flight) scan(d []byte) {
	for len(d) > 0 {
		size, ok := recordSize(d)
		if !ok {
			f.other = true
			return
		}
		f.record(d[:size])
		d = d[size:]
	}
}

// add appends to b[:n] the records of datagram d that bring something
// new, and returns the new length; false when they do not fit.
func (f *flight) add(b []byte, n int, d []byte) (int, bool) {
	if len(d) > len(b)-n {
		return n, false
	}
	for len(d) > 0 {
		size, ok := recordSize(d)
		if !ok {
			f.other = true
			return n + copy(b[n:], d), true
		}
		if !f.known(d[:size]) {
			f.record(d[:size])
			n += copy(b[n:], d[:size])
		}
		d = d[size:]
	}
	return n, true
}

// recordSize returns the length of the record d starts with.
func recordSize(d []byte) (int, bool) {
	if len(d) < recordHeaderLen {
		return 0, false
	}
	size := recordHeaderLen + int(binary.BigEndian.Uint16(d[11:13]))
	return size, size <= len(d)
}

// fragments calls fn for each fragment of handshake record r; false when
// r is not an unencrypted handshake record or does not parse.
func fragments(r []byte, fn func(fragment)) bool {
	if r[0] != contentHandshake || r[3] != 0 || r[4] != 0 {
		return false
	}
	body := r[recordHeaderLen:]
	for len(body) > 0 {
		if len(body) < handshakeHeaderLen {
			return false
		}
		fr := fragment{typ: body[0], seq: binary.BigEndian.Uint16(body[4:6]),
			total: uint24(body[1:4]), off: uint24(body[6:9]), size: uint24(body[9:12])}
		if int(fr.size) > len(body)-handshakeHeaderLen {
			return false
		}
		fn(fr)
		body = body[handshakeHeaderLen+int(fr.size):]
	}
	return true
}

func uint24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// record notes the fragments of record r.
func (f *flight) record(r []byte) {
	ok := fragments(r, func(fr fragment) {
		if f.n == len(f.frags) {
			f.other = true
			return
		}
		f.frags[f.n] = fr
		f.n++
	})
	if !ok {
		f.other = true
	}
}

// known reports a handshake record all of whose fragments have arrived
// already: a duplicate, or part of a resent flight.
func (f *flight) known(r []byte) bool {
	all := true
	ok := fragments(r, func(fr fragment) {
		all = all && f.has(fr)
	})
	return ok && all
}

func (f *flight) has(fr fragment) bool {
	for _, g := range f.frags[:f.n] {
		if g.seq == fr.seq && g.off == fr.off && g.size == fr.size {
			return true
		}
	}
	return false
}

// complete reports whether the flight can go to pion: every message from
// the ServerHello to the ServerHelloDone has arrived whole, or a record
// of another kind came (a resumption's ChangeCipherSpec, an alert).
func (f *flight) complete() bool {
	if f.other {
		return true
	}
	first, last, ok := f.bounds()
	if !ok {
		return false
	}
	for seq := first; seq <= last; seq++ {
		if !f.whole(seq) {
			return false
		}
	}
	return true
}

// bounds returns the message sequence numbers of the ServerHello and the
// ServerHelloDone; false until both have come.
func (f *flight) bounds() (first, last uint16, ok bool) {
	var hello, done bool
	for _, fr := range f.frags[:f.n] {
		switch fr.typ {
		case msgServerHello:
			first, hello = fr.seq, true
		case msgServerHelloDone:
			last, done = fr.seq, true
		}
	}
	return first, last, hello && done && first <= last
}

// whole reports whether the fragments of message seq cover it from its
// first byte to its last.
func (f *flight) whole(seq uint16) bool {
	var covered, total uint32
	found := false
	for grew := true; grew; {
		grew = false
		for _, fr := range f.frags[:f.n] {
			if fr.seq != seq {
				continue
			}
			found, total = true, fr.total
			if fr.off <= covered && fr.off+fr.size > covered {
				covered, grew = fr.off+fr.size, true
			}
		}
	}
	return found && covered >= total
}

// recordSeq returns the sequence number of record r.
func recordSeq(r []byte) uint64 {
	return uint64(binary.BigEndian.Uint16(r[5:7]))<<32 | uint64(binary.BigEndian.Uint32(r[7:11]))
}

// parseServerHello returns the random and the cipher suite of a ServerHello
// in record r (RFC 5246 §7.4.1.3), if r holds one whole.
func parseServerHello(r []byte) (random [32]byte, suite CipherSuite, ok bool) {
	fragments(r, func(fr fragment) {
		ok = ok || fr.typ == msgServerHello && fr.off == 0 && fr.size == fr.total
	})
	if !ok {
		return random, 0, false
	}
	body := r[recordHeaderLen:]
	for body[0] != msgServerHello { // skip the messages before it
		body = body[handshakeHeaderLen+int(uint24(body[9:12])):]
	}
	m := body[handshakeHeaderLen : handshakeHeaderLen+int(uint24(body[9:12]))]
	// server_version(2) random(32) session_id<0..32> cipher_suite(2)
	if len(m) < 35 || len(m) < 35+int(m[34])+2 {
		return random, 0, false
	}
	copy(random[:], m[2:34])
	return random, CipherSuite(binary.BigEndian.Uint16(m[35+int(m[34]):])), true
}
