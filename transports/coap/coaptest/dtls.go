package coaptest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/dtls/v2"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/pki"
)

// DTLSResponder answers as a Responder does, over DTLS: pion/dtls/v2's
// listener on a free loopback port. pion's Accept runs each handshake
// before it returns, so handshakes are served one at a time (the
// listener's goroutine); each client then has a goroutine of its own.
// A client whose handshake stalls holds up the others until the
// config's ConnectContextMaker gives up (pion's default: 30s).
type DTLSResponder struct {
	ln         net.Listener
	h          coap.HandlerFunc
	handshakes atomic.Uint64
	failed     atomic.Uint64
	closed     atomic.Bool
	wg         sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

// StartDTLSResponder starts a DTLSResponder (see NewDTLSResponder);
// t.Cleanup stops it.
func StartDTLSResponder(t testing.TB, cfg *dtls.Config, h coap.HandlerFunc) *DTLSResponder {
	t.Helper()
	r, err := NewDTLSResponder(cfg, h)
	if err != nil {
		t.Fatalf("start DTLS responder: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// NewDTLSResponder starts a DTLSResponder with pion's server config cfg
// (a PSK callback, or certificates) whose answers h gives, as for
// NewResponder.
func NewDTLSResponder(cfg *dtls.Config, h coap.HandlerFunc) (*DTLSResponder, error) {
	ln, err := dtls.Listen("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, cfg)
	if err != nil {
		return nil, err
	}
	r := &DTLSResponder{ln: ln, h: h, conns: make(map[net.Conn]struct{})}
	r.wg.Go(r.accept)
	return r, nil
}

// Addr returns the responder's host:port.
func (r *DTLSResponder) Addr() string { return r.ln.Addr().String() }

// Handshakes returns how many handshakes succeeded.
func (r *DTLSResponder) Handshakes() uint64 { return r.handshakes.Load() }

// Failed returns how many handshakes failed.
func (r *DTLSResponder) Failed() uint64 { return r.failed.Load() }

// Close closes every client's conn (each sends close_notify), then the
// listener, and waits for their goroutines. The other way round, pion
// sent no close_notify about once in 30 closes; this way, about once in
// 1,000.
func (r *DTLSResponder) Close() {
	r.closed.Store(true)
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.ln.Close()
	r.wg.Wait()
}

// accept handshakes with clients until the listener is closed; a failed
// handshake is counted, not fatal.
func (r *DTLSResponder) accept() {
	for {
		c, err := r.ln.Accept()
		if r.closed.Load() {
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			r.failed.Add(1)
			continue
		}
		r.handshakes.Add(1)
		r.mu.Lock()
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Go(func() { r.serve(c) })
	}
}

// serve answers one client until its conn fails or closes.
func (r *DTLSResponder) serve(c net.Conn) {
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 2048)
	var out []byte
	var req coap.Message
	var mid uint16
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if coap.Decode(buf[:n], &req) != nil {
			continue
		}
		resp, ok := answer(&req, r.h, &mid)
		if !ok {
			continue
		}
		if out, err = resp.AppendBinary(out[:0]); err == nil {
			c.Write(out)
		}
	}
}

// SessionStore is a server's store of DTLS sessions for resumption, by
// session id, for a DTLSResponder's config.
type SessionStore struct {
	mu sync.Mutex // guards m
	m  map[string]dtls.Session
}

// Set stores a session.
func (s *SessionStore) Set(key []byte, ss dtls.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]dtls.Session)
	}
	s.m[string(key)] = dtls.Session{ID: bytes.Clone(ss.ID), Secret: bytes.Clone(ss.Secret)}
	return nil
}

// Get returns a stored session, or none.
func (s *SessionStore) Get(key []byte) (dtls.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[string(key)], nil
}

// Del drops a session.
func (s *SessionStore) Del(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, string(key))
	return nil
}

// ServerPKI writes to t.TempDir() a server certificate that ca issues for
// 127.0.0.1 and localhost, its key and ca's certificate, and returns
// libcoap's arguments for them: -c certfile -j keyfile -C cafile. With
// -C libcoap asks the client for a certificate and verifies it against
// cafile (add -n not to).
func ServerPKI(t testing.TB, ca *pki.CA) []string {
	t.Helper()
	cert, err := ca.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"server.crt": certPEM, "server.key": keyPEM, "ca.crt": ca.CertPEM()}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"-c", filepath.Join(dir, "server.crt"), "-j", filepath.Join(dir, "server.key"), "-C", filepath.Join(dir, "ca.crt")}
}

// Holds reports whether the responder holds a conn from addr (host:port).
// pion/dtls/v2's server misses about 1 in 200 close_notify alerts that
// arrive as its handshake ends, and keeps that conn; a new client that
// the kernel gives the same port then has its ClientHello swallowed by
// it (RFC 6347 §4.2.8 asks a server to start a new handshake instead),
// so a benchmark that dials thousands of times skips such ports.
func (r *DTLSResponder) Holds(addr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		if c.RemoteAddr().String() == addr {
			return true
		}
	}
	return false
}

// Conns returns how many clients' conns are open.
func (r *DTLSResponder) Conns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}
