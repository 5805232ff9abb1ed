package coap_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v2"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
)

// dialThrice dials addr three times with d, closing each session after a
// GET: with an empty cache, with the cache the first filled, and after
// Forget. It returns the three handshakes.
func dialThrice(t *testing.T, addr string, d *coap.DTLS) [3]coap.DTLSHandshake {
	t.Helper()
	d.Sessions = new(coap.SessionCache)
	var hs [3]coap.DTLSHandshake
	for i := range hs {
		if i == 2 {
			d.Sessions.Forget()
		}
		s, err := coap.Dial(context.Background(), coap.Options{Addr: addr, Seed: 1, Stream: uint64(i), DTLS: d})
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		do(t, s, request(coap.Confirmable, coap.GET, "/time", ""), coap.Content)
		hs[i], _ = s.DTLSHandshake()
		s.Close()
		if !d.Sessions.Cached() {
			t.Errorf("dial %d: no session cached after a handshake", i)
		}
	}
	return hs
}

// TestDTLSResumption: a second handshake with the same SessionCache
// resumes the session where the server allows, and Forget forces a full
// one; where the server declines, full handshakes must still complete
// (the flightJoiner). libcoap's OpenSSL build resumes PSK sessions and
// certificate sessions without a client certificate (-n), but not those
// it verified a client certificate in; its GnuTLS build hands out
// session ids and never resumes. pion's server resumes sessions without
// a client certificate only (it drops the session id of one with, after
// curl's CVE-2016-5419).
func TestDTLSResumption(t *testing.T) {
	ca := newCA(t)
	pionPSK := &dtls.Config{
		PSK:                 func([]byte) ([]byte, error) { return []byte(testPSKKey), nil },
		PSKIdentityHint:     []byte("m2msim-hint"),
		CipherSuites:        []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8},
		SessionStore:        &coaptest.SessionStore{},
		ConnectContextMaker: handshakeContext,
	}
	srvCert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pionCert := &dtls.Config{
		Certificates:        []tls.Certificate{srvCert},
		SessionStore:        &coaptest.SessionStore{},
		ConnectContextMaker: handshakeContext,
	}
	tests := []struct {
		name    string
		addr    func(t *testing.T) string
		cert    bool
		resumes bool
	}{
		{"openssl/psk", func(t *testing.T) string { return startPSKServer(t, "openssl").SecureAddr() }, false, true},
		{"gnutls/psk", func(t *testing.T) string { return startPSKServer(t, "gnutls").SecureAddr() }, false, false},
		{"openssl/x509", func(t *testing.T) string {
			return coaptest.StartServer(t, "openssl", coaptest.ServerPKI(t, ca)...).SecureAddr()
		}, true, false},
		{"gnutls/x509", func(t *testing.T) string {
			return coaptest.StartServer(t, "gnutls", coaptest.ServerPKI(t, ca)...).SecureAddr()
		}, true, false},
		{"pion/psk", func(t *testing.T) string { return coaptest.StartDTLSResponder(t, pionPSK, nil).Addr() }, false, true},
		{"openssl/x509 no client cert", func(t *testing.T) string {
			return coaptest.StartServer(t, "openssl", append(coaptest.ServerPKI(t, ca), "-n")...).SecureAddr()
		}, true, true},
		{"pion/x509 no client cert", func(t *testing.T) string { return coaptest.StartDTLSResponder(t, pionCert, nil).Addr() }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := pskDTLS()
			if tt.cert {
				d = &coap.DTLS{Certificate: issue(t, ca, "dev"), RootCAs: ca.Pool()}
			}
			if strings.HasSuffix(tt.name, "no client cert") {
				d.Certificate = nil
			}
			// A full handshake mistaken for a resumption (the flightJoiner's
			// bug) would stall until this timeout.
			d.HandshakeTimeout = 3 * time.Second
			hs := dialThrice(t, tt.addr(t), d)
			if hs[0].Resumed || hs[1].Resumed != tt.resumes || hs[2].Resumed {
				t.Errorf("resumed: %v %v %v, want false %v false", hs[0].Resumed, hs[1].Resumed, hs[2].Resumed, tt.resumes)
			}
			t.Logf("full %v, second %v, after Forget %v", hs[0].Duration, hs[1].Duration, hs[2].Duration)
		})
	}
}

// handshakeContext bounds a pion server's handshakes in tests.
func handshakeContext() (context.Context, func()) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// dropFirstCCS loses the first datagram the device sends that starts
// with a ChangeCipherSpec record: the client's final flight of an
// abbreviated handshake.
type dropFirstCCS struct {
	net.Conn
	dropped atomic.Bool
}

func (c *dropFirstCCS) Write(b []byte) (int, error) {
	if len(b) > 0 && b[0] == 20 && c.dropped.CompareAndSwap(false, true) {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// TestDTLSResendsFinalFlight: after a resumption the client's flight is
// the handshake's last. When it is lost, the server resends its own, and
// the session's record layer (pion's conn is gone by then) answers with
// the client's flight again, so the server completes the handshake and
// answers.
func TestDTLSResendsFinalFlight(t *testing.T) {
	cfg := pionPSKServer()
	cfg.SessionStore = &coaptest.SessionStore{}
	cfg.FlightInterval = 100 * time.Millisecond
	r := coaptest.StartDTLSResponder(t, cfg, nil)
	d := pskDTLS()
	d.Sessions = new(coap.SessionCache)
	first := dial(t, coap.Options{Addr: r.Addr(), DTLS: d})
	first.Close()

	var drop *dropFirstCCS
	s := dial(t, coap.Options{Addr: r.Addr(), DTLS: d, AckTimeout: time.Second,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			drop = &dropFirstCCS{Conn: c}
			return drop, err
		}})
	if hs, _ := s.DTLSHandshake(); !hs.Resumed {
		t.Fatal("the second handshake did not resume")
	}
	do(t, s, request(coap.Confirmable, coap.GET, "/x", ""), coap.Content)
	if !drop.dropped.Load() {
		t.Error("no final flight was dropped")
	}
}
