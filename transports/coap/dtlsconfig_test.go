package coap_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/pki"
)

func TestParseCipherSuite(t *testing.T) {
	tests := []struct {
		in   string
		want coap.CipherSuite
	}{
		{"TLS_PSK_WITH_AES_128_CCM_8", coap.TLS_PSK_WITH_AES_128_CCM_8},
		{"psk_with_aes_128_ccm_8", coap.TLS_PSK_WITH_AES_128_CCM_8},
		{" TLS_PSK_WITH_AES_256_CCM_8 ", coap.TLS_PSK_WITH_AES_256_CCM_8},
		{"TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", coap.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256},
		{"TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", coap.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8},
		{"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", coap.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA},
	}
	for _, tt := range tests {
		got, err := coap.ParseCipherSuite(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseCipherSuite(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if back, err := coap.ParseCipherSuite(got.String()); err != nil || back != got {
			t.Errorf("ParseCipherSuite(%v.String()) = %v, %v", got, back, err)
		}
	}
	_, err := coap.ParseCipherSuite("TLS_RSA_WITH_AES_128_CBC_SHA")
	if err == nil || !strings.Contains(err.Error(), "TLS_PSK_WITH_AES_128_CCM_8") || !strings.Contains(err.Error(), "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8") {
		t.Errorf("ParseCipherSuite(unknown) = %v, want an error naming the valid suites", err)
	}
	var cs coap.CipherSuite
	if err := cs.UnmarshalText([]byte("TLS_PSK_WITH_AES_128_GCM_SHA256")); err != nil || cs != coap.TLS_PSK_WITH_AES_128_GCM_SHA256 {
		t.Errorf("UnmarshalText = %v, %v", cs, err)
	}
}

func TestDTLSValidate(t *testing.T) {
	key := []byte("k")
	tests := []struct {
		name string
		d    coap.DTLS
		want string // in the error; "" for none
	}{
		{"psk", coap.DTLS{Identity: []byte("id"), Key: key}, ""},
		{"certificates, host roots", coap.DTLS{}, ""},
		{"insecure", coap.DTLS{InsecureSkipVerify: true}, ""},
		{"psk suites", coap.DTLS{Key: key, CipherSuites: []coap.CipherSuite{coap.TLS_PSK_WITH_AES_128_CCM, coap.TLS_PSK_WITH_AES_128_CCM_8}}, ""},
		{"empty key", coap.DTLS{Key: []byte{}}, "empty PSK key"},
		{"key and roots", coap.DTLS{Key: key, RootCAs: x509.NewCertPool()}, "use one"},
		{"cert suite with psk", coap.DTLS{Key: key, CipherSuites: []coap.CipherSuite{coap.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8}}, "needs certificates"},
		{"psk suite with certs", coap.DTLS{CipherSuites: []coap.CipherSuite{coap.TLS_PSK_WITH_AES_128_CCM_8}}, "needs a PSK key"},
		{"unknown suite", coap.DTLS{Key: key, CipherSuites: []coap.CipherSuite{0x002f}}, "unknown DTLS cipher suite"},
		{"negative timeout", coap.DTLS{Key: key, HandshakeTimeout: -1}, "negative"},
	}
	for _, tt := range tests {
		err := tt.d.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate() = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

// TestDialRejectsBadDTLS: Dial validates before it opens a socket.
func TestDialRejectsBadDTLS(t *testing.T) {
	dialed := false
	_, err := coap.Dial(context.Background(), coap.Options{Addr: "127.0.0.1:5684", DTLS: &coap.DTLS{Key: []byte{}},
		Dial: func(context.Context, string, string) (net.Conn, error) {
			dialed = true
			return nil, errors.New("dialed")
		}})
	if err == nil || dialed {
		t.Errorf("Dial with an empty key = %v (dialed %v), want a config error before dialing", err, dialed)
	}
}

func TestCA(t *testing.T) {
	ca := newCA(t)
	dev, err := ca.Issue("urn:imei:490154203237518")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(dev.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := leaf.Verify(opts); err != nil || leaf.Subject.CommonName != "urn:imei:490154203237518" {
		t.Errorf("device certificate %q: %v", leaf.Subject.CommonName, err)
	}
	srv, err := ca.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	sleaf, _ := x509.ParseCertificate(srv.Certificate[0])
	for _, h := range []string{"127.0.0.1", "localhost"} {
		if err := sleaf.VerifyHostname(h); err != nil {
			t.Errorf("server certificate: %v", err)
		}
	}
	if _, err := ca.IssueServer(); err == nil {
		t.Error("IssueServer() with no host succeeded")
	}
}

// TestLoadCA: a CA written to PEM files and loaded back issues
// certificates its original's pool verifies; a leaf is refused as a CA.
func TestLoadCA(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := pki.LoadCA(write("ca.crt", ca.CertPEM()), write("ca.key", caKey))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := loaded.Issue("dev")
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(dev.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("certificate from the loaded CA: %v", err)
	}
	devCert, devKey, _ := pki.EncodePEM(dev)
	if _, err := pki.LoadCA(write("dev.crt", devCert), write("dev.key", devKey)); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("pki.LoadCA(a device certificate) = %v, want not a CA", err)
	}
	if _, err := pki.LoadCA(filepath.Join(dir, "missing.crt"), filepath.Join(dir, "ca.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pki.LoadCA(missing file) = %v, want ErrNotExist", err)
	}
}
