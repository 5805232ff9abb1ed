package pki_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/transports/pki"
)

// A throwaway CA's client and server certificates verify against its
// pool for their uses; written to files and loaded back, it issues
// certificates the first copy's pool accepts.
func TestIssueVerifyAndReload(t *testing.T) {
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	verify := func(ca *pki.CA, der []byte, usage x509.ExtKeyUsage, host string) error {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		_, err = c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: host})
		return err
	}
	dev, err := ca.Issue("urn:dev:meter-7")
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(ca, dev.Certificate[0], x509.ExtKeyUsageClientAuth, ""); err != nil {
		t.Errorf("device certificate: %v", err)
	}
	if err := verify(ca, dev.Certificate[0], x509.ExtKeyUsageServerAuth, ""); err == nil {
		t.Error("a device certificate verified for server use")
	}
	srv, err := ca.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(ca, srv.Certificate[0], x509.ExtKeyUsageServerAuth, "localhost"); err != nil {
		t.Errorf("server certificate: %v", err)
	}
	if _, err := ca.IssueServer(); err == nil {
		t.Error("a server certificate with no host")
	}
	dir := t.TempDir()
	key, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	os.WriteFile(certFile, ca.CertPEM(), 0o600)
	os.WriteFile(keyFile, key, 0o600)
	again, err := pki.LoadCA(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	dev2, err := again.Issue("urn:dev:meter-8")
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(ca, dev2.Certificate[0], x509.ExtKeyUsageClientAuth, ""); err != nil {
		t.Errorf("certificate from the reloaded CA: %v", err)
	}
}

// A device certificate is not a CA: loading one as the CA fails, naming
// the file; so do missing files.
func TestLoadCARefusesWhatIsNotACA(t *testing.T) {
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ca.Issue("dev")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(dev)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "dev.pem"), filepath.Join(dir, "dev.key")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	if _, err := pki.LoadCA(certFile, keyFile); err == nil || !strings.Contains(err.Error(), "not a CA certificate") ||
		!strings.Contains(err.Error(), certFile) {
		t.Errorf("LoadCA of a device certificate: %v", err)
	}
	if _, err := pki.LoadCA(filepath.Join(dir, "none.pem"), keyFile); err == nil {
		t.Error("LoadCA of a missing file succeeded")
	}
}
