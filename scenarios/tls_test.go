package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
	"github.com/m2msim/m2msim/transports/pki"
)

func TestParseTLSProblems(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	doc := func(broker, group string) string {
		return head + "target: {broker: '" + broker + "'}\ngroups:\n  - {count: 1, telemetry: {every: 1s}" + group + "}\n"
	}
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"tls over plain MQTT", doc("tcp://h", ", tls: {insecure: true}"), []string{"groups[0].tls: needs target.broker: mqtts://host:port"}},
		{"embedded without target.tls", doc("embedded", ", tls: {}"), []string{"groups[0].tls: needs target.broker"}},
		{"ca and insecure", doc("mqtts://h", ", tls: {ca: a.pem, insecure: true}"), []string{"groups[0].tls.insecure: give ca or insecure"}},
		{"cert without key", doc("mqtts://h", ", tls: {cert: 'c/{{id}}.pem'}"), []string{"groups[0].tls.cert: cert and key go together"}},
		{"cert and issued", doc("mqtts://h", ", tls: {cert: c.pem, key: k.pem, client_certificates: true}"), []string{"not both"}},
		{"CA halves", doc("mqtts://h", ", tls: {client_certificates: true, client_ca_cert: a.pem}"), []string{"client_ca_cert and client_ca_key go together"}},
		{"versions", doc("mqtts://h", ", tls: {min_version: '1.3', max_version: '1.2'}"), []string{"groups[0].tls.min_version: 1.3 is above max_version 1.2"}},
		{"bad version", doc("mqtts://h", ", tls: {min_version: '1.1'}"), []string{`groups[0].tls.min_version: must be "1.2" or "1.3"`}},
		{"timeout", doc("mqtts://h", ", tls: {handshake_timeout: 0s}"), []string{"groups[0].tls.handshake_timeout: must be > 0"}},
		{"unknown key", doc("mqtts://h", ", tls: {cafile: a.pem}"), []string{"cafile"}},
		{"ca for the embedded broker", head + "target: {tls: {ca: a.pem}}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n",
			[]string{"target.tls: the embedded broker's certificate"}},
		{"tls in a coap group", head + "groups:\n  - {count: 1, protocol: coap, telemetry: {every: 1s}, tls: {}}\n",
			[]string{"groups[0].tls: tls is for mqtt groups"}},
	}
	for _, c := range cases {
		wantProblems(t, c.name, c.doc, c.want)
	}
	for _, b := range []string{"mqtts://127.0.0.1", "ssl://127.0.0.1", "tls://127.0.0.1"} {
		s, err := Parse("t.yaml", []byte(doc(b, "")))
		if err != nil {
			t.Fatal(err)
		}
		if tl := s.Target.TLS; !s.Target.Secure() || s.Target.Addr() != "127.0.0.1:8883" || tl == nil || !tl.Resumption ||
			tl.MinVersion != "1.2" || tl.HandshakeTimeout != defaultTimeout {
			t.Errorf("%s: secure %v, addr %s, tls %+v: want TLS on port 8883 with defaults", b, s.Target.Secure(), s.Target.Addr(), tl)
		}
	}
}

// tlsFixture is a Mosquitto speaking TLS only, requiring client
// certificates from a CA whose files the scenario names.
type tlsFixture struct {
	m                  *mqtttest.Mosquitto
	caCert, caKey      string // the CA's PEM files
	otherCA            string // a CA that did not sign the broker's certificate
	brokerAddr         string
	requireCertificate bool
}

func startTLSMosquitto(t *testing.T, require bool) *tlsFixture {
	t.Helper()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &tlsFixture{caCert: filepath.Join(dir, "ca.pem"), caKey: filepath.Join(dir, "ca.key"), otherCA: filepath.Join(dir, "other.pem")}
	key, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{f.caCert: ca.CertPEM(), f.caKey: key, f.otherCA: other.CertPEM()} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.m = mqtttest.StartMosquitto(t, mqtttest.WithTLS(mqtttest.TLS{CA: ca, RequireCertificate: require, UseIdentityAsUsername: require}))
	f.brokerAddr = "mqtts://" + f.m.Addr()
	return f
}

func parseTLS(t *testing.T, f *tlsFixture, devices int, tlsBlock, connect string) *Scenario {
	t.Helper()
	s, err := Parse("tls.yaml", fmt.Appendf(nil, `version: 1
name: tls
seed: 3
duration: 3s
drain: 3s
target:
  broker: "%s"
  tls: {%s}
groups:
  - name: meters
    count: %d
    connect: {rate: 1000/s%s}
    telemetry: {every: 1s, qos: 1}
    commands: {every: 1s, qos: 1}
`, f.brokerAddr, tlsBlock, devices, connect))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// 200 devices with a certificate each, issued from the user's CA files,
// against a Mosquitto that requires one: every device connects, every
// report is acknowledged and delivered to the backend (which connects
// with a certificate of its own), every command answered, and each
// device's handshake is measured.
func TestRunMQTTOverTLSWithClientCertificates(t *testing.T) {
	const n = 200
	f := startTLSMosquitto(t, true)
	s := parseTLS(t, f, n, fmt.Sprintf("ca: %s, client_certificates: true, client_ca_cert: %s, client_ca_key: %s",
		f.caCert, f.caCert, f.caKey), "")
	rec := newTally()
	runOpened(t, s, 3, rec)
	k := rec.kinds
	if k[sim.Connected] != n || k[sim.ConnectFailed] != 0 || rec.named["tls_full_handshake"] != n {
		t.Errorf("connected %d, failed %d (%v), full handshakes %d: want %d, 0, %d",
			k[sim.Connected], k[sim.ConnectFailed], rec.errs, rec.named["tls_full_handshake"], n, n)
	}
	// At least a report per device, however loaded the machine is.
	if k[sim.Published] < n || k[sim.Acked] != k[sim.Published] || k[sim.Delivered] != k[sim.Published] {
		t.Errorf("published %d, acked %d, delivered %d: want >= %d, all acked and delivered",
			k[sim.Published], k[sim.Acked], k[sim.Delivered], n)
	}
	if k[sim.CommandSent] == 0 || k[sim.CommandReplied] != k[sim.CommandSent] {
		t.Errorf("commands %d, answered %d: want all answered", k[sim.CommandSent], k[sim.CommandReplied])
	}
	if k[sim.Measured] < n {
		t.Errorf("%d measurements, want a tls_handshake per device (%d)", k[sim.Measured], n)
	}
}

// A wrong CA or a missing client certificate fails at once with a
// TLSError naming the reason (the backend connects first), not a hang.
func TestOpenMQTTOverTLSRefused(t *testing.T) {
	f := startTLSMosquitto(t, true)
	for _, c := range []struct {
		name, block, reason string
	}{
		{"wrong CA", fmt.Sprintf("ca: %s, client_certificates: true", f.otherCA), dial.ReasonUnknownCA},
		{"no client certificate", "ca: " + f.caCert, dial.ReasonCertMissing},
		{"certificate from another CA", "ca: " + f.caCert + ", client_certificates: true", dial.ReasonUnknownCA},
	} {
		s := parseTLS(t, f, 1, c.block, "")
		start := time.Now()
		rt, err := Open(t.Context(), s, 1, nil)
		if err == nil {
			rt.Close()
		}
		var te *dial.TLSError
		if !errors.As(err, &te) || te.Reason != c.reason {
			t.Errorf("%s: Open = %v, want a TLSError %s", c.name, err, c.reason)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Open failed after %v", c.name, d)
		}
	}
}

// Per-report devices reconnect for each report: with resumption on,
// handshakes after a device's first resume; off, each is a full one.
func TestRunMQTTOverTLSResumption(t *testing.T) {
	f := startTLSMosquitto(t, true)
	for _, resume := range []bool{true, false} {
		t.Run(fmt.Sprint("resumption=", resume), func(t *testing.T) {
			s := parseTLS(t, f, 10, fmt.Sprintf("ca: %s, client_certificates: true, client_ca_cert: %s, client_ca_key: %s, resumption: %v",
				f.caCert, f.caCert, f.caKey, resume), ", mode: per-report")
			s.Groups[0].Commands = nil
			rec := newTally()
			runOpened(t, s, 3, rec)
			full, resumed := rec.named["tls_full_handshake"], rec.named["tls_resumed"]
			t.Logf("full handshakes %d, resumed %d, connects %d", full, resumed, rec.kinds[sim.Connected])
			switch {
			case rec.kinds[sim.Connected] <= 10 || rec.kinds[sim.ConnectFailed] != 0:
				t.Errorf("%d connects, %d failed (%v): want reconnects (> 10), none failed", rec.kinds[sim.Connected], rec.kinds[sim.ConnectFailed], rec.errs)
			case resume && (full != 10 || resumed != rec.kinds[sim.Connected]-10):
				t.Errorf("resumption on: %d full, %d resumed of %d connects: want 10 full, the rest resumed", full, resumed, rec.kinds[sim.Connected])
			case !resume && resumed != 0:
				t.Errorf("resumption off: %d handshakes resumed, want none", resumed)
			}
		})
	}
}

// The embedded broker with target.tls needs no files: it serves TLS with
// a certificate from the run's own CA, which also issues the devices'.
func TestRunMQTTOverTLSEmbedded(t *testing.T) {
	const n = 50
	s, err := Parse("tls.yaml", fmt.Appendf(nil, `version: 1
name: tls
seed: 3
duration: 2s
drain: 3s
target: {broker: embedded, tls: {client_certificates: true}}
groups:
  - {name: meters, count: %d, telemetry: {every: 1s, qos: 1}}
`, n))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 3, rec)
	k := rec.kinds
	if k[sim.Connected] != n || rec.named["tls_full_handshake"] != n || k[sim.Published] < n || k[sim.Delivered] != k[sim.Published] {
		t.Errorf("connected %d, full handshakes %d, published %d, delivered %d (%v): want %d, %d, >= %d, all delivered",
			k[sim.Connected], rec.named["tls_full_handshake"], k[sim.Published], k[sim.Delivered], rec.errs, n, n, n)
	}
}

// FuzzParseTLS fuzzes scenarios with tls blocks: each parses to a valid
// scenario whose normalised form reads back, or to problems that point
// into the input.
func FuzzParseTLS(f *testing.F) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	for _, doc := range []string{
		head + "target: {broker: 'mqtts://127.0.0.1', tls: {ca: ca.pem, client_certificates: true, resumption: false}}\ngroups:\n  - {count: 2, telemetry: {every: 1s}}\n",
		head + "target: {broker: 'ssl://h:9883'}\ngroups:\n  - {count: 1, telemetry: {every: 1s}, tls: {insecure: true, server_name: b, min_version: '1.3', max_version: '1.3'}}\n",
		head + "target: {broker: 'tls://h', tls: {handshake_timeout: 2s}}\ngroups:\n  - {count: 1, telemetry: {every: 1s}, tls: {cert: 'c/{{id}}.pem', key: 'c/{{id}}.key'}}\n",
		head + "target: {broker: embedded, tls: {client_certificates: true, client_ca_cert: a.pem, client_ca_key: a.key}}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n",
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(checkParse)
}

// A group whose devices lack certificates, against a broker that
// requires them, fails every connect as tls_certificate_required, while
// the backend (with target.tls's certificate) connects.
func TestRunMQTTOverTLSGroupWithoutCertificates(t *testing.T) {
	f := startTLSMosquitto(t, true)
	s, err := Parse("tls.yaml", fmt.Appendf(nil, `version: 1
name: tls
seed: 3
duration: 2s
drain: 1s
target:
  broker: "%s"
  tls: {ca: %s, client_certificates: true, client_ca_cert: %s, client_ca_key: %s}
groups:
  - name: bare
    count: 5
    reconnect: {backoff: none}
    tls: {ca: %s}
    telemetry: {every: 1s, qos: 1}
`, f.brokerAddr, f.caCert, f.caCert, f.caKey, f.caCert))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rec := newTally()
	runOpened(t, s, 3, rec)
	if k := rec.kinds; k[sim.Connected] != 0 || k[sim.ConnectFailed] < 5 || rec.errs["connect_failed:tls_certificate_required"] != k[sim.ConnectFailed] {
		t.Errorf("connected %d, failed %d (%v): want every connect failed as tls_certificate_required", k[sim.Connected], k[sim.ConnectFailed], rec.errs)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %v, want about its duration and drain", d)
	}
}
