package coap

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/dtls/v2"
	"github.com/pion/logging"
)

// DTLS configures a session's DTLS 1.2 client (RFC 6347, pion/dtls/v2):
// Dial runs the handshake over the socket Options.Dial opens, so link
// shaping applies to the handshake's flights too, and the session then
// speaks CoAP inside DTLS records (coaps, RFC 7252 §9). A Key selects a
// pre-shared key; without one the server is authenticated by its
// certificate. One DTLS serves one device: the caller fills in its
// Identity (or Certificate) and Sessions, and may share the rest.
// Dial does not modify it.
type DTLS struct {
	// Identity and Key are the device's PSK identity and key (RFC 4279).
	// The server's identity hint is ignored.
	Identity, Key []byte

	// Certificate is the device's certificate and private key, sent when
	// the server asks for one (CA.Issue makes them); nil: none.
	Certificate *tls.Certificate
	// RootCAs verify the server's certificate chain; nil: the host's
	// roots. InsecureSkipVerify accepts any server certificate instead.
	RootCAs            *x509.CertPool
	InsecureSkipVerify bool
	// ServerName is the name the server's certificate must carry, and,
	// unless it is an IP address, the SNI sent; default: the host of
	// Options.Addr. An IP address is checked against the certificate's
	// IP addresses (pion/dtls/v2 itself checks no IP).
	ServerName string

	// CipherSuites are offered in order of preference. Default: LwM2M's
	// TLS_PSK_WITH_AES_128_CCM_8 alone with a Key; otherwise every
	// certificate suite, LwM2M's TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
	// first. ParseCipherSuite names them.
	CipherSuites []CipherSuite

	// HandshakeTimeout bounds the handshake (default 15s): about 1 in
	// 20,000 handshakes stalls for seconds waiting on a lost flight.
	HandshakeTimeout time.Duration
	// FlightInterval is how long the handshake waits for the server's
	// next flight before it sends its own again (default 1s, RFC 6347
	// §4.2.4.1's initial timer). pion/dtls/v2 does not double it.
	FlightInterval time.Duration

	// Sessions offers the device's last session for resumption (an
	// abbreviated handshake, RFC 5246 §7.3) and keeps the one each
	// handshake establishes; nil: every handshake is a full one.
	Sessions *SessionCache
}

// DefaultHandshakeTimeout bounds a DTLS handshake when
// DTLS.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 15 * time.Second

// closeNotifyTimeout bounds the write of the close_notify alert at Close:
// a shaped link can hold a write back, and Close must not hang on it.
const closeNotifyTimeout = time.Second

// DTLSHandshake is what a session's DTLS handshake took, for a
// dtls_handshake latency and for counting resumptions.
type DTLSHandshake struct {
	// Duration runs from the first ClientHello to the server's Finished.
	Duration time.Duration
	// Resumed reports an abbreviated handshake that resumed the session
	// DTLS.Sessions offered.
	Resumed bool
}

// Validate reports what is wrong with d: an empty Key, a Key with a
// certificate, a negative duration, suites pion/dtls/v2 lacks or that
// do not fit the key exchange (a PSK suite with certificates, or the
// reverse).
func (d *DTLS) Validate() error {
	psk := d.Key != nil
	var errs []error
	if psk && len(d.Key) == 0 {
		errs = append(errs, errors.New("empty PSK key"))
	}
	if psk && (d.Certificate != nil || d.RootCAs != nil || d.InsecureSkipVerify) {
		errs = append(errs, errors.New("both a PSK key and certificate settings: use one"))
	}
	if d.HandshakeTimeout < 0 || d.FlightInterval < 0 {
		errs = append(errs, errors.New("negative HandshakeTimeout or FlightInterval"))
	}
	for _, s := range d.CipherSuites {
		if err := checkSuite(s, psk); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("coap: dtls: %w", err)
	}
	return nil
}

// checkSuite reports a suite that pion lacks or that does not fit the
// key exchange.
func checkSuite(s CipherSuite, psk bool) error {
	if _, err := ParseCipherSuite(s.String()); err != nil {
		return err
	}
	switch {
	case psk && !s.PSK():
		return fmt.Errorf("cipher suite %v needs certificates; with a PSK offer %s", s, suiteNames(pskSuites))
	case !psk && s.PSK():
		return fmt.Errorf("cipher suite %v needs a PSK key; with certificates offer %s", s, suiteNames(certSuites))
	}
	return nil
}

// handshake runs the client handshake over conn with the server at addr,
// bounded by HandshakeTimeout and ctx. It closes conn if it fails.
func (d *DTLS) handshake(ctx context.Context, conn net.Conn, addr string) (net.Conn, *DTLSHandshake, error) {
	var store *sessionStore
	under := conn
	if d.Sessions != nil {
		store = &sessionStore{c: d.Sessions}
		under = &flightJoiner{Conn: conn}
	}
	tap := &handoffConn{Conn: under, raw: conn}
	cfg := d.config(addr, store)
	cfg.KeyLogWriter = &tap.keys
	timeout := d.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	dc, err := dtls.ClientWithContext(hctx, tap, cfg)
	took := time.Since(start)
	if err != nil {
		conn.Close()
		return nil, nil, &HandshakeError{Addr: addr, Elapsed: took, Err: handshakeCause(err)}
	}
	hs := &DTLSHandshake{Duration: took, Resumed: store.resumed(dc)}
	rc, err := tap.handoff(dc, hs.Resumed)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return rc, hs, nil
}

// handshakeCause strips pion's own HandshakeError, which HandshakeError
// replaces.
func handshakeCause(err error) error {
	var he *dtls.HandshakeError
	if errors.As(err, &he) && he.Err != nil {
		return he.Err
	}
	return err
}

// config builds pion's configuration for one handshake with addr.
func (d *DTLS) config(addr string, store *sessionStore) *dtls.Config {
	cfg := &dtls.Config{
		FlightInterval: d.FlightInterval,
		LoggerFactory:  DiscardLoggers{},
	}
	if store != nil {
		cfg.SessionStore = store
	}
	suites := d.CipherSuites
	if d.Key != nil {
		if suites == nil {
			suites = defaultPSKSuites
		}
		cfg.CipherSuites = pionSuites(suites)
		key := d.Key
		cfg.PSK = func([]byte) ([]byte, error) { return key, nil }
		cfg.PSKIdentityHint = d.Identity // what a pion client sends as its identity
		if cfg.PSKIdentityHint == nil {
			cfg.PSKIdentityHint = []byte{}
		}
		return cfg
	}
	if suites == nil {
		suites = defaultCertSuites
	}
	cfg.CipherSuites = pionSuites(suites)
	d.certConfig(cfg, addr)
	return cfg
}

// certConfig fills in the certificate settings.
func (d *DTLS) certConfig(cfg *dtls.Config, addr string) {
	if d.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*d.Certificate}
	}
	cfg.RootCAs, cfg.InsecureSkipVerify = d.RootCAs, d.InsecureSkipVerify
	name := d.ServerName
	if name == "" {
		name, _, _ = net.SplitHostPort(addr)
	}
	cfg.ServerName = name
	if net.ParseIP(name) != nil && !d.InsecureSkipVerify {
		cfg.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
			if len(chains) == 0 || len(chains[0]) == 0 {
				return errors.New("no verified server certificate")
			}
			return chains[0][0].VerifyHostname(name)
		}
	}
}

// handoffConn is the socket as pion's conn sees it. After the handshake
// the session's own record layer (recordConn) takes over and pion's conn
// is closed, so pion keeps no goroutines, buffers or state for an idle
// device. Until then handoffConn keeps the datagrams of the client's last
// flight (resent if the server resends its own after an abbreviated
// handshake) and keeps from pion any application data the server sends
// as the handshake ends, for the record layer; at the handoff it cuts
// pion off the socket without a close_notify and without closing it.
type handoffConn struct {
	net.Conn          // what pion reads and writes: the socket, or a flightJoiner on it
	raw      net.Conn // the socket

	keys keyLog // the client random and master secret, from pion

	mu           sync.Mutex // guards the fields below: pion reads and writes from two goroutines
	detached     bool
	readSince    bool     // a datagram went to pion since the last write
	flight       [][]byte // the datagrams written since the last read
	early        [][]byte // application data for the record layer
	hello        bool     // a ServerHello was read: serverRandom and suite are set
	serverRandom [32]byte
	suite        CipherSuite
	sealed       bool   // the client sent a record in epoch 1: lastSeq is set
	lastSeq      uint64 // the highest record sequence number sent in epoch 1
}

// Read hands pion the next datagram that is not application data.
func (h *handoffConn) Read(b []byte) (int, error) {
	for {
		n, err := h.Conn.Read(b)
		h.mu.Lock()
		switch {
		case h.detached:
			if err == nil && n > 0 {
				h.early = append(h.early, bytes.Clone(b[:n]))
			}
			h.mu.Unlock()
			return 0, io.EOF
		case err == nil && n > recordHeaderLen && b[0] == contentApplicationData:
			h.early = append(h.early, bytes.Clone(b[:n]))
			h.mu.Unlock()
			continue
		case err == nil:
			h.readSince = true
			h.noteHello(b[:n])
		}
		h.mu.Unlock()
		return n, err
	}
}

// Write sends a datagram of pion's, and keeps it as part of the flight.
func (h *handoffConn) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.detached {
		return len(b), nil
	}
	if h.readSince {
		h.flight, h.readSince = nil, false
	}
	h.flight = append(h.flight, bytes.Clone(b))
	h.noteSeq(b)
	return h.Conn.Write(b)
}

// noteHello takes the server random and the cipher suite from a
// ServerHello in datagram d (RFC 5246 §7.4.1.3). h.mu must be held.
func (h *handoffConn) noteHello(d []byte) {
	for len(d) > 0 {
		size, ok := recordSize(d)
		if !ok {
			return
		}
		if random, suite, ok := parseServerHello(d[:size]); ok {
			h.hello, h.serverRandom, h.suite = true, random, suite
		}
		d = d[size:]
	}
}

// noteSeq notes the sequence numbers of pion's records in epoch 1, so the
// record layer goes on after them. h.mu must be held.
func (h *handoffConn) noteSeq(d []byte) {
	for len(d) > 0 {
		size, ok := recordSize(d)
		if !ok {
			return
		}
		if binary.BigEndian.Uint16(d[3:5]) == 1 {
			seq := recordSeq(d)
			if !h.sealed || seq > h.lastSeq {
				h.sealed, h.lastSeq = true, seq
			}
		}
		d = d[size:]
	}
}

// state returns what the record layer needs, once the handshake is over.
func (h *handoffConn) state() (*handshakeState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	clientRandom, master, ok := h.keys.get()
	if !ok || !h.hello || !h.sealed {
		return nil, errors.New("coap: dtls handoff: the handshake's keys were not seen")
	}
	return &handshakeState{epoch: 1, seq: h.lastSeq + 1, clientRandom: clientRandom,
		serverRandom: h.serverRandom, suite: h.suite, master: master}, nil
}

// Close closes the socket, unless the record layer has it.
func (h *handoffConn) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.detached {
		return nil
	}
	return h.Conn.Close()
}

// SetReadDeadline sets the socket's read deadline, by which pion ends a
// read, unless the record layer has the socket.
func (h *handoffConn) SetReadDeadline(t time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.detached {
		return nil
	}
	return h.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the socket's write deadline, unless the record
// layer has the socket.
func (h *handoffConn) SetWriteDeadline(t time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.detached {
		return nil
	}
	return h.Conn.SetWriteDeadline(t)
}

// SetDeadline sets both deadlines, unless the record layer has the
// socket.
func (h *handoffConn) SetDeadline(t time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.detached {
		return nil
	}
	return h.Conn.SetDeadline(t)
}

// handoff closes pion's conn dc without a word on the wire and returns
// the record layer that carries the session from here on, with the keys
// and sequence numbers dc ended with.
func (h *handoffConn) handoff(dc *dtls.Conn, resumed bool) (*recordConn, error) {
	h.mu.Lock()
	h.detached = true
	h.mu.Unlock()
	h.raw.SetReadDeadline(time.Unix(1, 0)) // ends pion's pending read
	dc.Close()                             // returns once pion's goroutines have
	if err := h.raw.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("coap: dtls handoff: %w", err)
	}
	hs, err := h.state()
	if err != nil {
		return nil, err
	}
	var final [][]byte
	if resumed { // the client's flight was the handshake's last
		final = h.flight
	}
	return newRecordConn(h.raw, hs, final, h.early)
}

// keyLog takes the client random and master secret from pion's key log
// (NSS key log format, "CLIENT_RANDOM <hex> <hex>"). They go nowhere
// else: the record layer needs them, as pion's conn did.
type keyLog struct {
	mu           sync.Mutex // guards the fields below: pion writes from its handshake goroutine
	ok           bool
	clientRandom [32]byte
	master       []byte
}

// Write parses one key log line.
func (k *keyLog) Write(line []byte) (int, error) {
	f := strings.Fields(string(line))
	if len(f) != 3 || f[0] != "CLIENT_RANDOM" {
		return 0, fmt.Errorf("coap: unexpected key log line %q", f)
	}
	random, err1 := hex.DecodeString(f[1])
	master, err2 := hex.DecodeString(f[2])
	if err := errors.Join(err1, err2); err != nil || len(random) != 32 {
		return 0, fmt.Errorf("coap: unexpected key log line: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ok, k.master = true, master
	copy(k.clientRandom[:], random)
	return len(line), nil
}

func (k *keyLog) get() ([32]byte, []byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.clientRandom, k.master, k.ok
}

// DiscardLoggers gives pion a logger that drops everything: m2msim does
// not print from its transports (a failed handshake reaches the caller as
// an error, or a server's Stats), and pion's default logger would cost
// every conn six log.Loggers.
type DiscardLoggers struct{}

// NewLogger returns a logger that drops everything.
func (DiscardLoggers) NewLogger(string) logging.LeveledLogger { return discardLogger{} }

type discardLogger struct{}

func (discardLogger) Trace(string)          {}
func (discardLogger) Tracef(string, ...any) {}
func (discardLogger) Debug(string)          {}
func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Info(string)           {}
func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Warn(string)           {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Error(string)          {}
func (discardLogger) Errorf(string, ...any) {}
