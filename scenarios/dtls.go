package scenarios

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/pki"
)

// DTLS secures a CoAP group's sessions (coaps, RFC 7252 §9) with DTLS 1.2:
// a pre-shared key per device, or certificates.
type DTLS struct {
	// Identity is each device's PSK identity [{{id}}]; Key, KeyHex or
	// KeyEnv (the name of an environment variable holding it, read when
	// the run starts) give the key, shared by the fleet as a server such
	// as libcoap's (-k) expects.
	Identity *sim.Template `yaml:"identity"`
	Key      string        `yaml:"key,omitempty"`
	KeyHex   string        `yaml:"key_hex,omitempty"`
	KeyEnv   string        `yaml:"key_env,omitempty"`
	// CA verifies the server's certificate (a PEM file); Insecure
	// accepts any instead.
	CA       string `yaml:"ca,omitempty"`
	Insecure bool   `yaml:"insecure"`
	// ClientCertificates gives each device a certificate of its own,
	// issued at run start from ClientCACert and ClientCAKey (PEM files),
	// or from a throwaway CA when they are not given.
	ClientCertificates bool   `yaml:"client_certificates"`
	ClientCACert       string `yaml:"client_ca_cert,omitempty"`
	ClientCAKey        string `yaml:"client_ca_key,omitempty"`
	// CipherSuites are offered in order [TLS_PSK_WITH_AES_128_CCM_8 with
	// a key, the ECDHE_ECDSA suites otherwise].
	CipherSuites     []string      `yaml:"cipher_suites"`
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	FlightInterval   time.Duration `yaml:"flight_interval"`
	// Resumption resumes each device's last session on reconnect (an
	// abbreviated handshake); false forces full handshakes.
	Resumption bool `yaml:"resumption"`
}

func (d *DTLS) withDefaults(has func(string) bool) {
	d.Identity = orTemplate(d.Identity, "{{id}}")
	if !has("handshake_timeout") {
		d.HandshakeTimeout = coap.DefaultHandshakeTimeout
	}
	if !has("flight_interval") {
		d.FlightInterval = time.Second
	}
	if !has("resumption") {
		d.Resumption = true
	}
}

// psk reports whether the group uses a pre-shared key.
func (d *DTLS) psk() bool { return d.Key != "" || d.KeyHex != "" || d.KeyEnv != "" }

// validate checks a group's dtls block at p; secure says whether the
// target is coaps://, embedded whether it is the embedded server.
func (d *DTLS) validate(t *tree, p, target string, secure, embedded bool) {
	switch {
	case embedded && !d.psk():
		t.add(p, "the embedded server takes a pre-shared key (key, key_hex or key_env); for certificates use an external coaps:// server")
	case !secure && !embedded:
		t.add(p, "needs %s: coaps://host:port or embedded", target)
	}
	keys := 0
	for _, k := range []string{d.Key, d.KeyHex, d.KeyEnv} {
		if k != "" {
			keys++
		}
	}
	switch {
	case keys > 1:
		t.add(p+".key", "give one of key, key_hex and key_env")
	case d.KeyHex != "":
		if b, err := hex.DecodeString(d.KeyHex); err != nil || len(b) == 0 {
			t.add(p+".key_hex", "must be hex digits, got %q", d.KeyHex)
		}
	case d.KeyEnv != "" && !envPattern.MatchString(d.KeyEnv):
		t.add(p+".key_env", "must be the name of an environment variable, got %q", d.KeyEnv)
	}
	if d.psk() && (d.CA != "" || d.Insecure || d.ClientCertificates) {
		t.add(p, "a pre-shared key and certificates (ca, insecure, client_certificates): use one")
	}
	if !d.psk() && d.CA == "" && !d.Insecure {
		t.add(p, "give a pre-shared key (key, key_hex or key_env), or certificates: ca (or insecure: true) to check the server's")
	}
	if (d.ClientCACert == "") != (d.ClientCAKey == "") || (d.ClientCACert != "" && !d.ClientCertificates) {
		t.add(p+".client_ca_cert", "client_ca_cert and client_ca_key go together, with client_certificates: true")
	}
	for i, name := range d.CipherSuites {
		s, err := coap.ParseCipherSuite(name)
		switch {
		case err != nil:
			t.add(fmt.Sprintf("%s.cipher_suites[%d]", p, i), "%v", err)
		case s.PSK() != d.psk():
			t.add(fmt.Sprintf("%s.cipher_suites[%d]", p, i), "%s does not fit the key exchange (a pre-shared key: %v)", name, d.psk())
		}
	}
	if d.HandshakeTimeout <= 0 || d.FlightInterval <= 0 {
		t.add(p+".handshake_timeout", "handshake_timeout and flight_interval must be > 0")
	}
	if d.Identity.PerMessage() {
		t.add(p+".identity", perMessageMsg)
	}
}

// dtlsGroup is a group's DTLS settings made ready at run start: the key
// read, the CA files loaded, the throwaway CA made.
type dtlsGroup struct {
	cfg      *DTLS
	key      []byte
	roots    *x509.CertPool
	suites   []coap.CipherSuite
	clientCA *pki.CA
	// caches keeps each device's session for resumption, by fleet index.
	caches sync.Map
}

// prepare reads what a group's DTLS needs from files and the environment.
func (d *DTLS) prepare() (*dtlsGroup, error) {
	g := &dtlsGroup{cfg: d}
	var err error
	switch {
	case d.Key != "":
		g.key = []byte(d.Key)
	case d.KeyHex != "":
		g.key, _ = hex.DecodeString(d.KeyHex)
	case d.KeyEnv != "":
		v, ok := os.LookupEnv(d.KeyEnv)
		if !ok || v == "" {
			return nil, fmt.Errorf("dtls.key_env names $%s: %w", d.KeyEnv, ErrCredentials)
		}
		g.key = []byte(v)
	}
	if d.CA != "" {
		pem, err := os.ReadFile(d.CA)
		if err != nil {
			return nil, fmt.Errorf("dtls.ca: %w", err)
		}
		g.roots = x509.NewCertPool()
		if !g.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("dtls.ca: %s holds no PEM certificate", d.CA)
		}
	}
	if d.ClientCertificates {
		if d.ClientCACert != "" {
			g.clientCA, err = pki.LoadCA(d.ClientCACert, d.ClientCAKey)
		} else {
			g.clientCA, err = pki.NewCA()
		}
		if err != nil {
			return nil, fmt.Errorf("dtls client certificates: %w", err)
		}
	}
	for _, name := range d.CipherSuites {
		s, _ := coap.ParseCipherSuite(name)
		g.suites = append(g.suites, s)
	}
	return g, nil
}

// options returns one device's DTLS settings: its identity (or its own
// certificate, issued now) and its session cache.
func (g *dtlsGroup) options(dev int, v *sim.Vars) (*coap.DTLS, error) {
	d := &coap.DTLS{RootCAs: g.roots, InsecureSkipVerify: g.cfg.Insecure, CipherSuites: g.suites,
		HandshakeTimeout: g.cfg.HandshakeTimeout, FlightInterval: g.cfg.FlightInterval}
	if g.key != nil {
		d.Identity, d.Key = []byte(g.cfg.Identity.Render(v)), g.key
	}
	if g.clientCA != nil {
		c, err := g.clientCA.Issue(v.ID)
		if err != nil {
			return nil, err
		}
		d.Certificate = &c
	}
	if g.cfg.Resumption {
		c, _ := g.caches.LoadOrStore(dev, new(coap.SessionCache))
		d.Sessions = c.(*coap.SessionCache)
	}
	return d, nil
}

// handshook reports a session's DTLS handshake to the engine.
func handshook(s *coap.Session, h sim.Handler) {
	hs, ok := s.DTLSHandshake()
	if !ok {
		return
	}
	h.Measure("dtls_handshake", hs.Duration)
	if hs.Resumed {
		h.Count("dtls_resumed")
	} else {
		h.Count("dtls_full_handshake")
	}
}

// secureSession gives the session of a device of a DTLS group (dtls by
// group index, nil entries for plain CoAP) its DTLS, and the embedded
// server's DTLS address when it is the target.
func secureSession(s *Scenario, dtls []*dtlsGroup, secureAddr string, o *coap.Options, spec sim.ConnectSpec) error {
	gi, base := s.groupIndex(spec.Device)
	dg := dtls[gi]
	if dg == nil {
		return nil
	}
	if secureAddr != "" {
		o.Addr = secureAddr
	}
	v := sim.Vars{ID: spec.ClientID, Index: spec.Device - base, Device: spec.Device, Group: s.Groups[gi].Name}
	var err error
	o.DTLS, err = dg.options(spec.Device, &v)
	return err
}

// sharedKey is the one pre-shared key of the protocol's groups that
// speak DTLS to its embedded server, which serves one key to every
// client; nil when none does.
func sharedKey(s *Scenario, groups []*dtlsGroup, protocol string) ([]byte, error) {
	var key []byte
	first := -1
	for i, g := range groups {
		switch {
		case g == nil || s.Groups[i].Protocol != protocol:
		case key == nil:
			key, first = g.key, i
		case string(g.key) != string(key):
			return nil, fmt.Errorf("groups[%d] and groups[%d] (%s, %s) use different DTLS keys: the embedded %s server serves one",
				first, i, s.Groups[first].Name, s.Groups[i].Name, protocolNames[protocol])
		}
	}
	return key, nil
}

// protocolNames spell the protocols in messages.
var protocolNames = map[string]string{ProtocolCoAP: "CoAP", ProtocolLwM2M: "LwM2M", ProtocolMQTT: "MQTT"}
