package coap_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v2"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
)

// TestDTLSRecordLayerSuites: the session's record layer, which takes over
// from pion's conn after the handshake, protects and opens records in
// every suite pion/dtls/v2 has, against pion's own server: an echo of a
// payload comes back whole.
func TestDTLSRecordLayerSuites(t *testing.T) {
	ca := newCA(t)
	ecdsaCert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	rsaCert := rsaServerCert(t)
	psk := []coap.CipherSuite{coap.TLS_PSK_WITH_AES_128_CCM, coap.TLS_PSK_WITH_AES_128_CCM_8, coap.TLS_PSK_WITH_AES_256_CCM_8,
		coap.TLS_PSK_WITH_AES_128_GCM_SHA256, coap.TLS_PSK_WITH_AES_128_CBC_SHA256, coap.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256}
	cert := []coap.CipherSuite{coap.TLS_ECDHE_ECDSA_WITH_AES_128_CCM, coap.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
		coap.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, coap.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, coap.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		coap.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, coap.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, coap.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}
	for _, cs := range append(psk, cert...) {
		t.Run(cs.String(), func(t *testing.T) {
			cfg := &dtls.Config{CipherSuites: []dtls.CipherSuiteID{dtls.CipherSuiteID(cs)}, ConnectContextMaker: handshakeContext}
			d := &coap.DTLS{CipherSuites: []coap.CipherSuite{cs}, HandshakeTimeout: 5 * time.Second}
			switch {
			case cs.PSK():
				cfg.PSK = func([]byte) ([]byte, error) { return []byte(testPSKKey), nil }
				cfg.PSKIdentityHint = []byte("hint")
				d.Identity, d.Key = []byte(testPSKIdentity), []byte(testPSKKey)
			case strings.Contains(cs.String(), "RSA"):
				cfg.Certificates = []tls.Certificate{rsaCert}
				d.InsecureSkipVerify = true
			default:
				cfg.Certificates = []tls.Certificate{ecdsaCert}
				d.RootCAs = ca.Pool()
			}
			r := coaptest.StartDTLSResponder(t, cfg, nil)
			lost := make(chan error, 1)
			s := dial(t, coap.Options{Addr: r.Addr(), DTLS: d, Lost: func(err error) { lost <- err }})
			payload := strings.Repeat("m2msim ", 100)
			if resp := do(t, s, request(coap.Confirmable, coap.POST, "/echo", payload), coap.Content); string(resp.Payload) != payload {
				t.Errorf("echo of %d bytes came back as %d", len(payload), len(resp.Payload))
			}
			s.Close()
			if err := s.Close(); err != nil || len(lost) != 0 {
				t.Errorf("Close again = %v; lost: %d", err, len(lost))
			}
		})
	}
}

// rsaServerCert makes a self-signed RSA server certificate for
// 127.0.0.1.
func rsaServerCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
