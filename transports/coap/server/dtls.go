package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/dtls/v2"

	"github.com/m2msim/m2msim/transports/coap"
)

// DTLSConfig makes the server listen for CoAP over DTLS 1.2 (coaps, RFC
// 7252 §9; pion/dtls/v2) besides plain CoAP. Keys come from a PSK (Key
// for every client, or PSK to look them up by identity) or a
// certificate, not both: pion/dtls/v2 offers PSK suites alone when it
// has a PSK. The zero values of the other fields are defaults.
type DTLSConfig struct {
	// Addr is where the DTLS listener binds (host:port); default: the
	// plain listener's host, on a free port (SecureAddr tells which).
	Addr string

	// Key is the pre-shared key of every client, whatever identity it
	// sends; PSK instead returns the key of an identity (RFC 4279), or an
	// error that fails the handshake. IdentityHint is sent to clients
	// that use a PSK; nil: none.
	Key          []byte
	PSK          func(identity []byte) ([]byte, error)
	IdentityHint []byte

	// Certificate is the server's certificate chain and key
	// (pki.CA.IssueServer makes one). ClientCAs verify the clients'
	// certificates: one is asked for and verified when given, and
	// required with RequireClientCert.
	Certificate       *tls.Certificate
	ClientCAs         *x509.CertPool
	RequireClientCert bool

	// CipherSuites are accepted in order of preference. Default: every
	// PSK suite pion/dtls/v2 has with a PSK, LwM2M's
	// TLS_PSK_WITH_AES_128_CCM_8 first; every certificate suite with a
	// certificate, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 first.
	CipherSuites []coap.CipherSuite

	// HandshakeTimeout bounds a handshake (default
	// coap.DefaultHandshakeTimeout): a client that vanishes within one
	// holds a handshake slot that long. FlightInterval is how long the
	// server waits for a client's next flight before it sends its own
	// again (default 1s).
	HandshakeTimeout, FlightInterval time.Duration
	// MaxHandshakes bounds the handshakes in progress (default 64); the
	// ClientHellos of more wait in a backlog of 1024 and past it are
	// dropped: their clients send them again a FlightInterval later.
	MaxHandshakes int
	// MaxSessions bounds the sessions, established or in their
	// handshake (default 10,000): past it a ClientHello is ignored and
	// counted in Stats.DTLSRefused.
	MaxSessions int
	// IdleTimeout ends a session its client has sent nothing on for
	// that long (default 5 minutes), with its observations.
	IdleTimeout time.Duration
	// SessionCache is how many sessions the server keeps for clients to
	// resume (an abbreviated handshake, RFC 5246 §7.3; coap.DTLS's
	// Sessions offers them), the oldest forgotten first: default
	// 10,000, about 200 bytes each; negative: none, every handshake is
	// a full one.
	SessionCache int
}

// The default suites, in order of preference.
var (
	defaultPSKSuites = []coap.CipherSuite{
		coap.TLS_PSK_WITH_AES_128_CCM_8, coap.TLS_PSK_WITH_AES_128_CCM, coap.TLS_PSK_WITH_AES_256_CCM_8,
		coap.TLS_PSK_WITH_AES_128_GCM_SHA256, coap.TLS_PSK_WITH_AES_128_CBC_SHA256,
	}
	defaultCertSuites = []coap.CipherSuite{
		coap.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, coap.TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
		coap.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, coap.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		coap.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, coap.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		coap.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, coap.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	}
)

// withDefaults returns a copy of d with its defaults filled in.
func (d DTLSConfig) withDefaults() DTLSConfig {
	if d.HandshakeTimeout <= 0 {
		d.HandshakeTimeout = coap.DefaultHandshakeTimeout
	}
	if d.FlightInterval <= 0 {
		d.FlightInterval = time.Second
	}
	d.MaxHandshakes = or(d.MaxHandshakes, 64)
	d.MaxSessions = or(d.MaxSessions, 10_000)
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = 5 * time.Minute
	}
	if d.SessionCache == 0 {
		d.SessionCache = 10_000
	}
	if d.CipherSuites == nil {
		d.CipherSuites = defaultCertSuites
		if d.psk() {
			d.CipherSuites = defaultPSKSuites
		}
	}
	return d
}

func (d *DTLSConfig) psk() bool { return d.Key != nil || d.PSK != nil }

// validate reports what is wrong with d (nil is fine: no DTLS): no keys,
// both kinds of keys, a required client certificate without CAs, suites
// that do not fit the keys.
func (d *DTLSConfig) validate() error {
	if d == nil {
		return nil
	}
	var errs []error
	switch {
	case d.Key != nil && d.PSK != nil:
		errs = append(errs, errors.New("both Key and PSK: use one"))
	case d.Key != nil && len(d.Key) == 0:
		errs = append(errs, errors.New("empty Key"))
	case d.psk() && d.Certificate != nil:
		errs = append(errs, errors.New("both a PSK and a certificate: pion/dtls/v2 takes one"))
	case !d.psk() && d.Certificate == nil:
		errs = append(errs, errors.New("no Key, PSK or Certificate"))
	}
	if d.RequireClientCert && d.ClientCAs == nil {
		errs = append(errs, errors.New("RequireClientCert without ClientCAs"))
	}
	for _, s := range d.CipherSuites {
		if _, err := coap.ParseCipherSuite(s.String()); err != nil {
			errs = append(errs, err)
		} else if s.PSK() != d.psk() {
			errs = append(errs, fmt.Errorf("cipher suite %v does not fit the keys", s))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server: dtls: %w", err)
	}
	return nil
}

// pion builds pion's configuration, shared by every handshake, with
// cache as its session store (nil: none).
func (d *DTLSConfig) pion(cache *sessionCache) *dtls.Config {
	cfg := &dtls.Config{
		FlightInterval: d.FlightInterval,
		LoggerFactory:  coap.DiscardLoggers{},
		// A ClientHello's cookie exchange (HelloVerifyRequest) stays on:
		// it keeps the server from amplifying a spoofed source's flood.
	}
	if cache != nil {
		cfg.SessionStore = cache
	}
	for _, s := range d.CipherSuites {
		cfg.CipherSuites = append(cfg.CipherSuites, dtls.CipherSuiteID(s))
	}
	switch {
	case d.Key != nil:
		key := d.Key
		cfg.PSK = func([]byte) ([]byte, error) { return key, nil }
	case d.PSK != nil:
		cfg.PSK = d.PSK
	}
	if cfg.PSK != nil {
		cfg.PSKIdentityHint = d.IdentityHint
		return cfg
	}
	cfg.Certificates = []tls.Certificate{*d.Certificate}
	cfg.ClientCAs = d.ClientCAs
	switch {
	case d.RequireClientCert:
		cfg.ClientAuth = dtls.RequireAndVerifyClientCert
	case d.ClientCAs != nil:
		cfg.ClientAuth = dtls.VerifyClientCertIfGiven
	}
	return cfg
}

// DTLSPeer is the peer UpdateFunc is given for a client over DTLS: its
// address and what its handshake authenticated.
type DTLSPeer struct {
	*net.UDPAddr
	// Identity is the PSK identity the client sent; nil with
	// certificates.
	Identity []byte
	// Certificates is the client's certificate chain (DER), leaf
	// first; nil with a PSK or when it sent none.
	Certificates [][]byte
}

// netAddr returns the peer UpdateFunc is given for e.
func (e endpoint) netAddr() net.Addr {
	if e.sess != nil {
		return e.sess.peer
	}
	return net.UDPAddrFromAddrPort(e.addr)
}
