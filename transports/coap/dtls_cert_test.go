package coap_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
	"github.com/m2msim/m2msim/transports/pki"
)

// newCA makes a throwaway CA or fails the test.
func newCA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue makes a device certificate or fails the test.
func issue(t testing.TB, ca *pki.CA, cn string) *tls.Certificate {
	t.Helper()
	c, err := ca.Issue(cn)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestDTLSCertificateLibcoap: mutual certificate authentication with
// libcoap's builds: the device verifies the server's certificate against
// the CA (by IP address), the server verifies the device's (-C).
func TestDTLSCertificateLibcoap(t *testing.T) {
	for _, flavour := range []string{"openssl", "gnutls"} {
		t.Run(flavour, func(t *testing.T) {
			ca := newCA(t)
			srv := coaptest.StartServer(t, flavour, coaptest.ServerPKI(t, ca)...)
			d := &coap.DTLS{Certificate: issue(t, ca, "urn:dev:m2msim-1"), RootCAs: ca.Pool()}
			s := dial(t, coap.Options{Addr: srv.SecureAddr(), Seed: 1, DTLS: d})
			exerciseLibcoap(t, s, "/m2msim-x509")
			hs, _ := s.DTLSHandshake()
			t.Logf("handshake %v", hs.Duration)
		})
	}
}

// TestDTLSCertificateRefused: the handshake fails with a
// *HandshakeError when either side's certificate is not trusted, or the
// device has none.
func TestDTLSCertificateRefused(t *testing.T) {
	for _, flavour := range []string{"openssl", "gnutls"} {
		t.Run(flavour, func(t *testing.T) {
			ca, other := newCA(t), newCA(t)
			srv := coaptest.StartServer(t, flavour, coaptest.ServerPKI(t, ca)...)
			for name, d := range map[string]*coap.DTLS{
				"untrusted server": {Certificate: issue(t, ca, "dev"), RootCAs: other.Pool()},
				"untrusted device": {Certificate: issue(t, other, "dev"), RootCAs: ca.Pool()},
				"no device cert":   {RootCAs: ca.Pool()},
				"wrong name":       {Certificate: issue(t, ca, "dev"), RootCAs: ca.Pool(), ServerName: "127.0.0.2"},
			} {
				d.HandshakeTimeout = 2 * time.Second
				start := time.Now()
				s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: d})
				if err == nil {
					s.Close()
					t.Errorf("%s: Dial succeeded", name)
					continue
				}
				var he *coap.HandshakeError
				if !errors.As(err, &he) {
					t.Errorf("%s: Dial = %v, want a *HandshakeError", name, err)
				}
				t.Logf("%s: %v after %v", name, err, time.Since(start))
			}
		})
	}
}
