// Package pki issues X.509 certificates for simulated fleets: a throwaway or
// user-given CA signs one client certificate per device, and server
// certificates for the test servers, for DTLS and TLS alike.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// CA issues certificates for a simulated fleet: one per device, signed by
// a throwaway CA (NewCA) or by the user's own (LoadCA) whose certificate
// the server under test trusts. Keys are ECDSA P-256, the cheapest to make
// and the curve LwM2M's certificate suite names. A CA is safe for
// concurrent use.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certLifetime is how long issued certificates are valid: a throwaway
// CA's serve one test run, however long a soak test lasts.
const certLifetime = 10 * 365 * 24 * time.Hour

// clockSkew back-dates NotBefore, so a server whose clock is a little
// behind accepts a certificate issued a moment ago.
const clockSkew = time.Hour

// NewCA makes a self-signed CA with a new ECDSA P-256 key.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: ca key: %w", err)
	}
	tmpl, err := template("m2msim test CA")
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: ca certificate: %w", err)
	}
	return &CA{cert: cert, key: key}, nil
}

// LoadCA reads a CA certificate and its private key from PEM files (a
// PKCS #8, SEC 1 EC or PKCS #1 RSA key): the user's own CA, whose
// certificate the server under test already trusts.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("pki: load ca: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: load ca: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: load ca %s, %s: %w", certFile, keyFile, err)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: load ca %s: its key cannot sign", keyFile)
	}
	if !pair.Leaf.IsCA || (pair.Leaf.KeyUsage != 0 && pair.Leaf.KeyUsage&x509.KeyUsageCertSign == 0) {
		return nil, fmt.Errorf("pki: load ca %s: not a CA certificate (basic constraints or key usage)", certFile)
	}
	return &CA{cert: pair.Leaf, key: key}, nil
}

// Issue makes a device's client certificate for commonName (its
// endpoint name, as LwM2M servers match it), with a new ECDSA P-256 key.
func (ca *CA) Issue(commonName string) (tls.Certificate, error) {
	tmpl, err := template(commonName)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return ca.sign(tmpl)
}

// IssueServer makes a server certificate for hosts, each an IP address
// or a DNS name, for a test server to present.
func (ca *CA) IssueServer(hosts ...string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("pki: server certificate: no host")
	}
	tmpl, err := template(hosts[0])
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.sign(tmpl)
}

// sign makes a key and a certificate for it from tmpl. The certificate is
// not parsed back into Leaf: a device only sends its bytes, and parsing
// would add a fifth to the cost of issuing.
func (ca *CA) sign(tmpl *x509.Certificate) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: certificate key: %w", err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// template starts a certificate for commonName with a random 128-bit
// serial number.
func template(commonName string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("pki: certificate serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(certLifetime),
	}, nil
}

// Certificate returns the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a pool holding the CA's certificate, for DTLS.RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// CertPEM returns the CA's certificate in PEM, for a server's trust
// store.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// KeyPEM returns the CA's private key in PEM (PKCS #8), to keep a
// throwaway CA for later runs (LoadCA reads it back).
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode ca key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePEM returns an issued certificate chain and its private key in
// PEM (the key in PKCS #8), for a server or a tool that reads files.
func EncodePEM(c tls.Certificate) (certPEM, keyPEM []byte, err error) {
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
