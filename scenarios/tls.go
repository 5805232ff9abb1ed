package scenarios

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/pki"
)

// TLS secures a group's TCP connections (MQTT over TLS, mqtts), or, under
// target, the backend's and those of every group without a tls block of
// its own. Its names are the dtls block's where they mean the same.
type TLS struct {
	// CA verifies the server's certificate (a PEM file; the system's
	// roots when empty); Insecure accepts any instead. ServerName is
	// the name sent (SNI) and verified [the target's host].
	CA         string `yaml:"ca,omitempty"`
	Insecure   bool   `yaml:"insecure"`
	ServerName string `yaml:"server_name,omitempty"`
	// ClientCertificates gives each device a certificate of its own,
	// issued at its first handshake from ClientCACert and ClientCAKey
	// (PEM files), or from the run's throwaway CA when they are not
	// given.
	ClientCertificates bool   `yaml:"client_certificates"`
	ClientCACert       string `yaml:"client_ca_cert,omitempty"`
	ClientCAKey        string `yaml:"client_ca_key,omitempty"`
	// Cert and Key are templates of each device's own PEM files
	// ("certs/{{id}}.pem"), read at its first handshake, instead of
	// issued certificates.
	Cert *sim.Template `yaml:"cert"`
	Key  *sim.Template `yaml:"key"`
	// Resumption resumes each device's last session on reconnect (a
	// TLS 1.3 ticket or a TLS 1.2 session id); false forces full
	// handshakes.
	Resumption       bool          `yaml:"resumption"`
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// MinVersion and MaxVersion bound the protocol: "1.2" or "1.3".
	MinVersion string `yaml:"min_version"`
	MaxVersion string `yaml:"max_version"`
}

var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

func (c *TLS) withDefaults(has func(string) bool) {
	if !has("resumption") {
		c.Resumption = true
	}
	if !has("handshake_timeout") {
		c.HandshakeTimeout = defaultTimeout
	}
	if !has("min_version") {
		c.MinVersion = "1.2"
	}
	if !has("max_version") {
		c.MaxVersion = "1.3"
	}
}

// tlsDefaults fills in the tls blocks of the target and the groups. A
// TLS broker with no target.tls gets one of defaults: the system's roots,
// no client certificate.
func (s *Scenario) tlsDefaults(has func(string) bool) {
	if s.Target.TLS == nil && !s.Target.Embedded() && brokerTLSScheme[schemeOf(s.Target.Broker)] {
		s.Target.TLS = &TLS{}
	}
	if s.Target.TLS != nil {
		s.Target.TLS.withDefaults(scope(has, "target.tls"))
	}
	for i := range s.Groups {
		if c := s.Groups[i].TLS; c != nil {
			c.withDefaults(scope(has, fmt.Sprintf("groups[%d].tls", i)))
		}
	}
}

// Secure reports whether devices reach the broker over TLS: an mqtts://,
// ssl:// or tls:// broker, or the embedded one with target.tls.
func (t Target) Secure() bool {
	if t.Embedded() {
		return t.TLS != nil
	}
	return brokerTLSScheme[schemeOf(t.Broker)]
}

// brokerTLSScheme holds the broker schemes that mean MQTT over TLS.
var brokerTLSScheme = map[string]bool{"mqtts": true, "ssl": true, "tls": true}

func schemeOf(u string) string {
	for i := range len(u) {
		if u[i] == ':' {
			return u[:i]
		}
	}
	return ""
}

// validateTLS checks the tls blocks against the target and the groups.
func (s *Scenario) validateTLS(t *tree) {
	tg := &s.Target
	if tg.TLS != nil {
		tg.TLS.validate(t, "target.tls", tg)
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		if g.TLS == nil {
			continue
		}
		p := fmt.Sprintf("groups[%d].tls", i)
		if g.IsCoAP() || g.IsLwM2M() {
			t.add(p, "tls is for mqtt groups (coap groups take dtls)")
			continue
		}
		g.TLS.validate(t, p, tg)
	}
}

// validate checks a tls block at p.
func (c *TLS) validate(t *tree, p string, tg *Target) {
	if !tg.Secure() {
		t.add(p, "needs target.broker: mqtts://host:port (or ssl://, tls://), or embedded with target.tls")
	}
	if tg.Embedded() && (c.CA != "" || c.Cert != nil) {
		t.add(p, "the embedded broker's certificate, and the client certificates it trusts, come from the run's own CA: leave out ca, cert and key")
	}
	if c.CA != "" && c.Insecure {
		t.add(p+".insecure", "give ca or insecure: true, not both")
	}
	if (c.ClientCACert == "") != (c.ClientCAKey == "") || (c.ClientCACert != "" && !c.ClientCertificates) {
		t.add(p+".client_ca_cert", "client_ca_cert and client_ca_key go together, with client_certificates: true")
	}
	switch {
	case (c.Cert == nil) != (c.Key == nil):
		t.add(p+".cert", "cert and key go together")
	case c.Cert != nil && c.ClientCertificates:
		t.add(p+".cert", "give client_certificates: true or cert and key, not both")
	case c.Cert != nil && (c.Cert.PerMessage() || c.Key.PerMessage()):
		t.add(p+".cert", perMessageMsg)
	}
	if c.HandshakeTimeout <= 0 {
		t.add(p+".handshake_timeout", "must be > 0, got %s", c.HandshakeTimeout)
	}
	lo, okLo := tlsVersions[c.MinVersion]
	hi, okHi := tlsVersions[c.MaxVersion]
	switch {
	case !okLo:
		t.add(p+".min_version", `must be "1.2" or "1.3", got %q`, c.MinVersion)
	case !okHi:
		t.add(p+".max_version", `must be "1.2" or "1.3", got %q`, c.MaxVersion)
	case lo > hi:
		t.add(p+".min_version", "%s is above max_version %s", c.MinVersion, c.MaxVersion)
	}
}

// tlsGroup is a tls block made ready at run start: the CA files loaded.
// It keeps each device's client certificate, issued or read at its
// first handshake, and its session, by fleet index.
type tlsGroup struct {
	cfg      *TLS
	roots    *x509.CertPool
	min, max uint16
	clientCA *pki.CA
	// vars names fleet device dev for certificate names and file
	// templates.
	vars func(dev int) sim.Vars
	// devs holds each device's state, by fleet index, allocated at its
	// first connect; the last slot is the backend's.
	devs []atomic.Pointer[deviceTLS]
}

// deviceTLS is one device's TLS state across its connections.
type deviceTLS struct {
	sessions dial.SessionCache
	mu       sync.Mutex // guards cert
	cert     *tls.Certificate
}

// prepare loads what the block names from files. ca is the run's
// throwaway CA, made on first use; devices is the fleet's size.
func (c *TLS) prepare(devices int, ca *lazyCA, vars func(int) sim.Vars) (*tlsGroup, error) {
	g := &tlsGroup{cfg: c, min: tlsVersions[c.MinVersion], max: tlsVersions[c.MaxVersion], vars: vars,
		devs: make([]atomic.Pointer[deviceTLS], devices+1)}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		g.roots = x509.NewCertPool()
		if !g.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca: %s holds no PEM certificate", c.CA)
		}
	}
	var err error
	switch {
	case c.ClientCACert != "":
		g.clientCA, err = pki.LoadCA(c.ClientCACert, c.ClientCAKey)
	case c.ClientCertificates:
		g.clientCA, err = ca.get()
	}
	if err != nil {
		return nil, fmt.Errorf("tls client certificates: %w", err)
	}
	return g, nil
}

// config returns device's TLS configuration: the group's server checks,
// the device's session cache, and its client certificate, issued or read
// when a server first asks for it. A device index out of the fleet (such
// as -1) is the backend's connection.
func (g *tlsGroup) config(device int) *tls.Config {
	d := g.device(device)
	c := &tls.Config{RootCAs: g.roots, InsecureSkipVerify: g.cfg.Insecure, ServerName: g.cfg.ServerName,
		MinVersion: g.min, MaxVersion: g.max}
	if g.cfg.Resumption {
		c.ClientSessionCache = &d.sessions
	}
	if g.clientCA != nil || g.cfg.Cert != nil {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return g.certificate(device, d)
		}
	}
	return c
}

func (g *tlsGroup) device(dev int) *deviceTLS {
	if dev < 0 || dev >= len(g.devs)-1 {
		dev = len(g.devs) - 1
	}
	slot := &g.devs[dev]
	if d := slot.Load(); d != nil {
		return d
	}
	slot.CompareAndSwap(nil, new(deviceTLS))
	return slot.Load()
}

// certificate returns the device's client certificate, issuing or
// reading it the first time.
func (g *tlsGroup) certificate(dev int, d *deviceTLS) (*tls.Certificate, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cert != nil {
		return d.cert, nil
	}
	v := g.vars(dev)
	var c tls.Certificate
	var err error
	if g.clientCA != nil {
		c, err = g.clientCA.Issue(v.ID)
	} else {
		certFile, keyFile := g.cfg.Cert.Render(&v), g.cfg.Key.Render(&v)
		if c, err = tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			err = fmt.Errorf("tls cert %s, key %s: %w", certFile, keyFile, err)
		}
	}
	if err != nil {
		return nil, err
	}
	d.cert = &c
	return d.cert, nil
}

// options returns the dial.TLS options of one connection of device,
// reporting its handshake to h (nil for the backend).
func (g *tlsGroup) options(device int, h sim.Handler) dial.TLSOptions {
	o := dial.TLSOptions{Config: g.config(device), Timeout: g.cfg.HandshakeTimeout}
	if h != nil {
		o.Handshook = func(hs dial.TLSHandshake) { tlsHandshook(hs, h) }
	}
	return o
}

// tlsHandshook reports a TLS handshake to the engine.
func tlsHandshook(hs dial.TLSHandshake, h sim.Handler) {
	h.Measure("tls_handshake", hs.Duration)
	if hs.Resumed {
		h.Count("tls_resumed")
	} else {
		h.Count("tls_full_handshake")
	}
}

// lazyCA is the run's throwaway CA, made when a block first needs it, so
// that every block issuing client certificates without a CA of its own
// shares one (and the embedded broker trusts it).
type lazyCA struct {
	once sync.Once
	ca   *pki.CA
	err  error
}

func (l *lazyCA) get() (*pki.CA, error) {
	l.once.Do(func() { l.ca, l.err = pki.NewCA() })
	return l.ca, l.err
}
