package coap

import (
	"fmt"
	"strings"

	"github.com/pion/dtls/v2"
)

// CipherSuite is a DTLS 1.2 cipher suite by its IANA number. Only those
// pion/dtls/v2 implements can be named (ParseCipherSuite).
type CipherSuite uint16

// The cipher suites a DTLS session can offer, by key exchange: a
// pre-shared key (PSK) or certificates (ECDHE with an ECDSA or RSA server
// key). TLS_PSK_WITH_AES_128_CCM_8 is LwM2M 1.x's mandatory PSK suite,
// TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 its mandatory certificate suite.
const (
	TLS_PSK_WITH_AES_128_CCM              = CipherSuite(dtls.TLS_PSK_WITH_AES_128_CCM)
	TLS_PSK_WITH_AES_128_CCM_8            = CipherSuite(dtls.TLS_PSK_WITH_AES_128_CCM_8)
	TLS_PSK_WITH_AES_256_CCM_8            = CipherSuite(dtls.TLS_PSK_WITH_AES_256_CCM_8)
	TLS_PSK_WITH_AES_128_GCM_SHA256       = CipherSuite(dtls.TLS_PSK_WITH_AES_128_GCM_SHA256)
	TLS_PSK_WITH_AES_128_CBC_SHA256       = CipherSuite(dtls.TLS_PSK_WITH_AES_128_CBC_SHA256)
	TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256 = CipherSuite(dtls.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256)

	TLS_ECDHE_ECDSA_WITH_AES_128_CCM        = CipherSuite(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM)
	TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8      = CipherSuite(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8)
	TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = CipherSuite(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
	TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256   = CipherSuite(dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
	TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = CipherSuite(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
	TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384   = CipherSuite(dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
	TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA    = CipherSuite(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA)
	TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA      = CipherSuite(dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA)
)

// pskSuites and certSuites are every suite of each kind, in the order of
// preference a default list would give them.
var (
	pskSuites = []CipherSuite{
		TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CCM, TLS_PSK_WITH_AES_256_CCM_8,
		TLS_PSK_WITH_AES_128_GCM_SHA256, TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
	}
	certSuites = []CipherSuite{
		TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
		TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	}
)

// The default offers: LwM2M's mandatory suite alone for a PSK, as a
// device would; for certificates LwM2M's first, then pion's defaults so
// that servers with RSA keys or without CCM_8 also agree on one.
var (
	defaultPSKSuites  = []CipherSuite{TLS_PSK_WITH_AES_128_CCM_8}
	defaultCertSuites = certSuites
)

// String returns the suite's IANA name, or its number in hex when pion
// does not implement it. (pion names one suite with dashes; IANA's
// underscores are used throughout here.)
func (c CipherSuite) String() string {
	return strings.ReplaceAll(dtls.CipherSuiteName(dtls.CipherSuiteID(c)), "-", "_")
}

// PSK reports whether the suite's key exchange uses a pre-shared key.
func (c CipherSuite) PSK() bool {
	for _, s := range pskSuites {
		if s == c {
			return true
		}
	}
	return false
}

// MarshalText returns the IANA name.
func (c CipherSuite) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses an IANA name, as ParseCipherSuite does, so a
// scenario can name suites.
func (c *CipherSuite) UnmarshalText(b []byte) error {
	s, err := ParseCipherSuite(string(b))
	if err != nil {
		return err
	}
	*c = s
	return nil
}

// ParseCipherSuite returns the suite of an IANA name such as
// "TLS_PSK_WITH_AES_128_CCM_8" (the TLS_ prefix and case are optional).
// Its error names every suite pion/dtls/v2 implements.
func ParseCipherSuite(name string) (CipherSuite, error) {
	want := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(want, "TLS_") {
		want = "TLS_" + want
	}
	for _, s := range append(pskSuites[:len(pskSuites):len(pskSuites)], certSuites...) {
		if s.String() == want {
			return s, nil
		}
	}
	return 0, fmt.Errorf("coap: unknown DTLS cipher suite %q: PSK suites are %s; certificate suites are %s",
		name, suiteNames(pskSuites), suiteNames(certSuites))
}

func suiteNames(ss []CipherSuite) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.String()
	}
	return strings.Join(names, ", ")
}

// pionSuites converts a suite list for pion's Config.
func pionSuites(ss []CipherSuite) []dtls.CipherSuiteID {
	ids := make([]dtls.CipherSuiteID, len(ss))
	for i, s := range ss {
		ids[i] = dtls.CipherSuiteID(s)
	}
	return ids
}
