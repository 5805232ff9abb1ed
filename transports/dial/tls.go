package dial

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync/atomic"
	"syscall"
	"time"
)

// TLSOptions configures TLS: a Func wrapped by it dials through the inner
// Func (shaped, pooled) and runs the client handshake before returning.
type TLSOptions struct {
	// Config is the client's configuration: roots, client certificate,
	// session cache. When it has no ServerName and does not skip
	// verification, the dialed host is used, as for tls.Dial.
	Config *tls.Config
	// Timeout bounds the handshake on top of the dial's ctx; 0 for
	// the ctx alone.
	Timeout time.Duration
	// Handshook, when set, is called after each completed handshake,
	// on the dialing goroutine.
	Handshook func(TLSHandshake)
}

// TLSHandshake is what a completed handshake reports.
type TLSHandshake struct {
	Duration time.Duration // from the first ClientHello to Finished
	Resumed  bool          // an abbreviated handshake, from a ticket or session id
	Version  uint16        // tls.VersionTLS12 or tls.VersionTLS13
}

// Reasons a TLS handshake or session fails, in TLSError.Reason.
const (
	ReasonHandshake   = "handshake"         // any other handshake failure
	ReasonTimeout     = "handshake_timeout" // no handshake within the timeout
	ReasonUnknownCA   = "unknown_ca"        // the server's certificate chains to no trusted root
	ReasonBadCert     = "bad_certificate"   // a certificate was refused (either side's)
	ReasonCertMissing = "certificate_required"
	ReasonHostname    = "hostname_mismatch" // the server's certificate names another host
)

// TLSError is a failed TLS handshake, or a TLS alert the server sent
// afterwards (with TLS 1.3 a server refuses a client certificate only
// after the client's handshake is done, on the first read). Reason is
// one of the Reason constants.
type TLSError struct {
	Addr   string
	Reason string
	Alert  uint8 // the server's alert, 0 when it sent none
	Err    error
}

// Error names the server, the reason and the cause.
func (e *TLSError) Error() string {
	return fmt.Sprintf("tls %s: %s: %v", e.Addr, e.Reason, e.Err)
}

// Unwrap returns the cause: crypto/tls's or crypto/x509's error.
func (e *TLSError) Unwrap() error { return e.Err }

// Kind labels the failure for error counts: "tls_" and the reason
// ("tls_unknown_ca", "tls_handshake_timeout").
func (e *TLSError) Kind() string { return "tls_" + e.Reason }

// TLS returns a Func that dials through d and runs a TLS client handshake
// over the connection, within ctx and o.Timeout. The returned conn is a
// *TLSConn. A failed handshake closes the connection and returns a
// *TLSError. A nil d dials with a plain net.Dialer.
func TLS(d Func, o TLSOptions) Func {
	if d == nil {
		var nd net.Dialer
		d = nd.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc, hs, err := handshake(ctx, conn, addr, &o)
		if err != nil {
			conn.Close()
			return nil, err
		}
		if o.Handshook != nil {
			o.Handshook(hs)
		}
		return tc, nil
	}
}

func handshake(ctx context.Context, conn net.Conn, addr string, o *TLSOptions) (*TLSConn, TLSHandshake, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		cfg = cfg.Clone()
		cfg.ServerName = hostOf(addr)
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	c := tls.Client(conn, cfg)
	start := time.Now()
	if err := c.HandshakeContext(ctx); err != nil {
		return nil, TLSHandshake{}, classify(addr, err, ctx.Err() != nil)
	}
	st := c.ConnectionState()
	return &TLSConn{Conn: c, addr: addr},
		TLSHandshake{Duration: time.Since(start), Resumed: st.DidResume, Version: st.Version}, nil
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// classify names why a handshake or a later read failed.
func classify(addr string, err error, timedOut bool) *TLSError {
	e := &TLSError{Addr: addr, Reason: ReasonHandshake, Err: err}
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
	)
	switch {
	case timedOut || errors.Is(err, context.DeadlineExceeded):
		e.Reason = ReasonTimeout
	case errors.As(err, &unknown):
		e.Reason = ReasonUnknownCA
	case errors.As(err, &hostname):
		e.Reason = ReasonHostname
	case errors.As(err, &invalid):
		e.Reason = ReasonBadCert
	default:
		if a, ok := remoteAlert(err); ok {
			e.Alert, e.Reason = a, alertReason(a)
		}
	}
	return e
}

// remoteAlert finds the alert a peer sent in err. crypto/tls reports it
// as a *net.OpError "remote error" around an unexported uint8 type.
func remoteAlert(err error) (uint8, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	if v := reflect.ValueOf(op.Err); v.Kind() == reflect.Uint8 {
		return uint8(v.Uint()), true
	}
	return 0, false
}

// TLS alert codes (RFC 8446 §6).
const (
	alertBadCertificate      = 42
	alertUnsupportedCert     = 43
	alertCertificateRevoked  = 44
	alertCertificateExpired  = 45
	alertCertificateUnknown  = 46
	alertUnknownCA           = 48
	alertCertificateRequired = 116
)

func alertReason(a uint8) string {
	switch a {
	case alertUnknownCA:
		return ReasonUnknownCA
	case alertCertificateRequired:
		return ReasonCertMissing
	case alertBadCertificate, alertUnsupportedCert, alertCertificateRevoked, alertCertificateExpired, alertCertificateUnknown:
		return ReasonBadCert
	}
	return ReasonHandshake
}

// TLSConn is a client connection whose handshake is done. Its reads and
// writes turn an alert the server sends later (a refused client
// certificate, with TLS 1.3) into a *TLSError.
type TLSConn struct {
	*tls.Conn
	addr    string
	refused atomic.Pointer[TLSError] // the alert found after a failed write
}

// alertWait bounds how long a failed write looks for the alert that
// explains it.
const alertWait = 100 * time.Millisecond

// Read reads application data.
func (c *TLSConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		if _, ok := remoteAlert(err); ok {
			return n, classify(c.addr, err, false)
		}
		if e := c.refused.Load(); e != nil {
			return n, e // the failed write closed the conn under this read
		}
	}
	return n, err
}

// Write writes application data. When the server has refused the
// connection with an alert and closed it, a write can fail with a reset
// before any read sees the alert: Write then reads the alert, briefly,
// and returns it.
func (c *TLSConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		return n, err
	}
	c.Conn.SetReadDeadline(time.Now().Add(alertWait))
	if _, rerr := c.Conn.Read(make([]byte, 1)); rerr != nil {
		if _, ok := remoteAlert(rerr); ok {
			e := classify(c.addr, rerr, false)
			c.refused.Store(e)
			return n, e
		}
	}
	return n, err
}

// Close closes the connection without a close_notify alert: crypto/tls
// would wait up to 5 s to send one to a server that reads nothing, and
// a session's Close must not block. Servers see an end of stream, as
// they do when a device's radio drops.
func (c *TLSConn) Close() error { return c.NetConn().Close() }
