package coap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
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
	cfg := d.config(addr, store)
	timeout := d.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	dc, err := dtls.ClientWithContext(hctx, under, cfg)
	took := time.Since(start)
	if err != nil {
		conn.Close()
		return nil, nil, &HandshakeError{Addr: addr, Elapsed: took, Err: handshakeCause(err)}
	}
	return &dtlsConn{Conn: dc, raw: conn}, &DTLSHandshake{Duration: took, Resumed: store.resumed(dc)}, nil
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
		LoggerFactory:  quietLoggers{},
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

// dtlsConn is a DTLS conn whose Close cannot hang: the close_notify
// alert is written with a deadline on the socket beneath, which is then
// closed.
type dtlsConn struct {
	*dtls.Conn
	raw net.Conn // the dialed socket
}

// Close sends close_notify and closes the socket.
func (c *dtlsConn) Close() error {
	c.raw.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
	return c.Conn.Close()
}

// quietLoggers gives pion a logger that drops everything: the package
// does not print, a failed handshake reaches the caller as an error, and
// pion's default logger would cost every conn six log.Loggers.
type quietLoggers struct{}

func (quietLoggers) NewLogger(string) logging.LeveledLogger { return quietLogger{} }

type quietLogger struct{}

func (quietLogger) Trace(string)          {}
func (quietLogger) Tracef(string, ...any) {}
func (quietLogger) Debug(string)          {}
func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Info(string)           {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warn(string)           {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Error(string)          {}
func (quietLogger) Errorf(string, ...any) {}
