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
// Joining that flight into one read lets pion parse it once. The joiner
// sits beneath the DTLS conn, on the dialed socket, and holds back
// nothing but a flight that starts with a ServerHello; reads happen on
// pion's one read goroutine, so it needs no lock.
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
)

// joinBuffers holds the scratch buffers a flight is read into beyond the
// first datagram, as large as pion's own read buffer.
var joinBuffers = sync.Pool{New: func() any { b := make([]byte, 8192); return &b }}

// Read reads a datagram; one that starts a ServerHello flight is joined
// with the rest of the flight, up to its ServerHelloDone or a record of
// another kind (ChangeCipherSpec, an alert).
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

// join reads the rest of the flight whose first n bytes are in b.
func (j *flightJoiner) join(b []byte, n int) (int, error) {
	bp := joinBuffers.Get().(*[]byte)
	defer joinBuffers.Put(bp)
	for !flightComplete(b[:n]) {
		m, err := j.Conn.Read(*bp)
		if err != nil {
			return 0, err
		}
		next := (*bp)[:m]
		switch {
		case startsServerHello(next): // the server sent its flight again
			n = copy(b, next)
		case m > len(b)-n:
			j.pending = append([]byte(nil), next...)
			return n, nil
		default:
			n += copy(b[n:], next)
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

// flightComplete reports whether the records in d end the server's
// hello flight: a ServerHelloDone, or any record that is not an
// unencrypted handshake one. Malformed records end it too: pion judges
// them.
func flightComplete(d []byte) bool {
	for len(d) >= recordHeaderLen {
		size := recordHeaderLen + int(binary.BigEndian.Uint16(d[11:13]))
		if d[0] != contentHandshake || d[3] != 0 || d[4] != 0 || size > len(d) {
			return true
		}
		if done, ok := holdsHelloDone(d[recordHeaderLen:size]); done || !ok {
			return true
		}
		d = d[size:]
	}
	return len(d) != 0
}

// holdsHelloDone scans the handshake messages (or fragments) of one
// record for a ServerHelloDone; ok is false when they do not parse.
func holdsHelloDone(body []byte) (done, ok bool) {
	for len(body) > 0 {
		if len(body) < handshakeHeaderLen {
			return false, false
		}
		if body[0] == msgServerHelloDone {
			return true, true
		}
		size := handshakeHeaderLen + (int(body[9])<<16 | int(body[10])<<8 | int(body[11]))
		if size > len(body) {
			return false, false
		}
		body = body[size:]
	}
	return false, true
}
