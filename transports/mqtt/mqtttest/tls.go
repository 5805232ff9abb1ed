package mqtttest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/m2msim/m2msim/transports/pki"
)

// TLS makes a broker's listener speak TLS only, with a server certificate
// for 127.0.0.1 issued by CA, which also verifies client certificates.
type TLS struct {
	CA *pki.CA
	// RequireCertificate refuses clients without a certificate from CA.
	RequireCertificate bool
	// UseIdentityAsUsername makes a client certificate's common name the
	// client's username.
	UseIdentityAsUsername bool
}

// WithTLS turns the listener into a TLS listener (Mosquitto's cafile,
// certfile, keyfile, require_certificate). The files go to the test's
// temporary directory; CAFile returns the CA's.
func WithTLS(t TLS) MosquittoOption {
	return func(c *mosquittoConfig) { c.tls = &t }
}

// CAFile returns the PEM file of the CA that issued the broker's
// certificate, or "" when it does not speak TLS.
func (m *Mosquitto) CAFile() string { return m.tlsCA }

// files writes the CA, the server's certificate and key to dir and
// returns the listener's configuration lines.
func (t *TLS) files(dir string) ([]string, error) {
	cert, err := t.CA.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("mosquitto tls: %w", err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(cert)
	if err != nil {
		return nil, fmt.Errorf("mosquitto tls: %w", err)
	}
	ca, crt, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for _, f := range []struct {
		path string
		data []byte
	}{{ca, t.CA.CertPEM()}, {crt, certPEM}, {key, keyPEM}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return nil, fmt.Errorf("mosquitto tls: %w", err)
		}
	}
	lines := []string{"cafile " + ca, "certfile " + crt, "keyfile " + key,
		fmt.Sprintf("require_certificate %t", t.RequireCertificate),
		fmt.Sprintf("use_identity_as_username %t", t.UseIdentityAsUsername)}
	return lines, nil
}
