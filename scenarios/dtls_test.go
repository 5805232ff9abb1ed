package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
	"github.com/m2msim/m2msim/transports/pki"
)

func TestParseDTLSProblems(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	group := func(target, dtls string) string {
		return head + "target: {coap: '" + target + "'}\ngroups:\n  - {count: 1, protocol: coap, telemetry: {every: 1s}" + dtls + "}\n"
	}
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"coaps without dtls", group("coaps://h", ""), []string{"groups[0].dtls: required: target.coap is coaps://"}},
		{"dtls over plain coap", group("coap://h", ", dtls: {key: k}"), []string{"groups[0].dtls: needs target.coap: coaps://host:port"}},
		{"two keys", group("coaps://h", ", dtls: {key: k, key_hex: 'ab'}"), []string{"groups[0].dtls.key: give one of key, key_hex and key_env"}},
		{"bad hex", group("coaps://h", ", dtls: {key_hex: 'zz'}"), []string{"groups[0].dtls.key_hex: must be hex digits"}},
		{"nothing to authenticate with", group("coaps://h", ", dtls: {}"), []string{"groups[0].dtls: give a pre-shared key"}},
		{"key and certificates", group("coaps://h", ", dtls: {key: k, insecure: true}"), []string{"a pre-shared key and certificates"}},
		{"suite that does not fit", group("coaps://h", ", dtls: {key: k, cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8]}"),
			[]string{"groups[0].dtls.cipher_suites[0]: TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 does not fit"}},
		{"unknown suite", group("coaps://h", ", dtls: {key: k, cipher_suites: [TLS_NOPE]}"), []string{"groups[0].dtls.cipher_suites[0]:"}},
		{"CA halves", group("coaps://h", ", dtls: {insecure: true, client_certificates: true, client_ca_cert: a.pem}"),
			[]string{"client_ca_cert and client_ca_key go together"}},
	}
	for _, c := range cases {
		wantProblems(t, c.name, c.doc, c.want)
	}
	s, err := Parse("t.yaml", []byte(group("coaps://127.0.0.1", ", dtls: {key: secret}")))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.CoAP != "coaps://127.0.0.1:5684" || s.Groups[0].DTLS.Identity.String() != "{{id}}" || !s.Groups[0].DTLS.Resumption {
		t.Errorf("target %q, identity %q, resumption %v: want port 5684, {{id}}, true",
			s.Target.CoAP, s.Groups[0].DTLS.Identity, s.Groups[0].DTLS.Resumption)
	}
}

// runDTLS runs a short CoAP fleet over DTLS PSK against a libcoap server
// and returns what it recorded.
func runDTLS(t *testing.T, flavour string, devices int, extra, connect string) *eventTally {
	t.Helper()
	const key = "m2msim-psk-secret"
	srv := coaptest.StartServer(t, flavour, "-k", key, "-h", "hint", "-d", "2000")
	s, err := Parse("dtls.yaml", fmt.Appendf(nil, `version: 1
name: dtls
seed: 6
duration: 5s
drain: 5s
target: {coap: "coaps://%s"}
groups:
  - name: sensors
    protocol: coap
    count: %d
    connect: {rate: 1000/s, timeout: 20s%s}
    dtls: {identity: "dev-{{index}}", key: %s%s}
    telemetry: {every: 1s, path: "/s/{{index}}", method: PUT}
    requests: {every: 1s, path: /time}
`, srv.SecureAddr(), devices, connect, key, extra))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 6, rec)
	return rec
}

// 1,000 devices over DTLS PSK against each of libcoap's DTLS builds:
// every device completes its handshake, every exchange is answered, and
// the handshakes are measured.
func TestRunCoAPOverDTLSAgainstLibcoap(t *testing.T) {
	for _, flavour := range []string{"gnutls", "openssl"} {
		t.Run(flavour, func(t *testing.T) {
			const n = 1000
			rec := runDTLS(t, flavour, n, "", "")
			k := rec.kinds
			if k[sim.Connected] != n || k[sim.ConnectFailed] != 0 || rec.named["dtls_full_handshake"] != n {
				t.Errorf("connected %d, failed %d, full handshakes %d: want %d, 0, %d", k[sim.Connected], k[sim.ConnectFailed],
					rec.named["dtls_full_handshake"], n, n)
			}
			if k[sim.Published] < 3*n || k[sim.Acked] != k[sim.Published] || k[sim.RequestAnswered] != k[sim.RequestSent] {
				t.Errorf("published %d, acked %d, requests %d answered %d: want >= %d, all acked and answered",
					k[sim.Published], k[sim.Acked], k[sim.RequestSent], k[sim.RequestAnswered], 3*n)
			}
			if m := rec.kinds[sim.Measured]; m < n {
				t.Errorf("%d measurements, want a dtls_handshake latency per device (%d)", m, n)
			}
		})
	}
}

// A wrong key fails every connect as a DTLS handshake failure, within
// the handshake timeout, and the run still ends on time.
func TestRunCoAPOverDTLSWrongKey(t *testing.T) {
	const key = "the-right-key"
	srv := coaptest.StartServer(t, "gnutls", "-k", key, "-h", "hint")
	s, err := Parse("dtls.yaml", fmt.Appendf(nil, `version: 1
name: dtls
seed: 6
duration: 4s
drain: 1s
target: {coap: "coaps://%s"}
groups:
  - name: sensors
    protocol: coap
    count: 5
    reconnect: {backoff: none}
    dtls: {key: wrong, handshake_timeout: 3s}
    telemetry: {every: 1s}
`, srv.SecureAddr()))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rec := newTally()
	runOpened(t, s, 6, rec)
	// libcoap's GnuTLS build drops a Finished it cannot check rather than
	// send an alert: the handshake times out.
	failed := rec.errs["connect_failed:dtls_handshake"] + rec.errs["connect_failed:dtls_handshake_timeout"]
	if k := rec.kinds; k[sim.Connected] != 0 || k[sim.ConnectFailed] != 5 || failed != 5 {
		t.Errorf("connected %d, failed %d (%v), unfinished %d: want none connected, all 5 failed as DTLS handshakes",
			k[sim.Connected], k[sim.ConnectFailed], rec.errs, k[sim.ConnectUnfinished])
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %v, want it to end within its duration and drain plus a handshake timeout", d)
	}
}

// Per-report devices connect for each report: with resumption on, every
// handshake after a device's first offers its cached session; off, each
// is a full one.
func TestRunCoAPOverDTLSResumption(t *testing.T) {
	for _, resume := range []bool{true, false} {
		t.Run(fmt.Sprint("resumption=", resume), func(t *testing.T) {
			rec := runDTLS(t, "openssl", 10, fmt.Sprintf(", resumption: %v", resume), ", mode: per-report")
			full, resumed := rec.named["dtls_full_handshake"], rec.named["dtls_resumed"]
			t.Logf("full handshakes %d, resumed %d, connects %d", full, resumed, rec.kinds[sim.Connected])
			switch {
			case rec.kinds[sim.Connected] < 20:
				t.Errorf("%d connects, want >= 20 (10 per-report devices, reports every second)", rec.kinds[sim.Connected])
			case resume && resumed == 0:
				t.Errorf("resumption on: %d resumed of %d handshakes, want some", resumed, full+resumed)
			case !resume && resumed != 0:
				t.Errorf("resumption off: %d handshakes resumed, want none", resumed)
			}
		})
	}
}

// Behind a NAT that forgets an idle binding, a DTLS device's next record
// leaves from a port the server does not know: the server drops it, the
// exchange times out, and the device handshakes again. The result shows
// the rebindings and the handshakes they cost.
func TestRunCoAPOverDTLSThroughAForgetfulNAT(t *testing.T) {
	const key = "m2msim-psk-secret"
	srv := coaptest.StartServer(t, "gnutls", "-k", key, "-h", "hint", "-d", "100")
	s, err := Parse("nat.yaml", fmt.Appendf(nil, `version: 1
name: nat
seed: 7
duration: 6s
drain: 2s
target: {coap: "coaps://%s"}
groups:
  - name: sensors
    protocol: coap
    count: 5
    connect: {timeout: 10s}
    reconnect: {backoff: fixed, initial: 100ms}
    link: {nat_timeout: 700ms}
    coap: {ack_timeout: 300ms, max_retransmit: 1}
    dtls: {key: %s}
    telemetry: {every: 1s, path: "/n/{{index}}", method: PUT}
`, srv.SecureAddr(), key))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 7, rec)
	rebinds, lost := rec.named["nat_rebind"], rec.named["dtls_session_lost"]
	handshakes := rec.named["dtls_full_handshake"] + rec.named["dtls_resumed"]
	t.Logf("rebindings %d, sessions lost %d, handshakes %d (%d resumed), connects %d", rebinds, lost, handshakes,
		rec.named["dtls_resumed"], rec.kinds[sim.Connected])
	if rebinds < 5 || lost < 5 || handshakes < 10 || rec.kinds[sim.Connected] != handshakes {
		t.Errorf("rebindings %d, sessions lost %d, handshakes %d: want each device to rebind, lose its session and handshake again",
			rebinds, lost, handshakes)
	}
}

// Certificates both ways against libcoap's OpenSSL build, which asks each
// device for a certificate and checks it against the CA: every device
// gets its own, issued at connect from the CA files the scenario names,
// and checks the server's against the same CA.
func TestRunCoAPOverDTLSWithCertificates(t *testing.T) {
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := coaptest.StartServer(t, "openssl", append(coaptest.ServerPKI(t, ca), "-d", "500")...)
	s, err := Parse("x509.yaml", fmt.Appendf(nil, `version: 1
name: x509
seed: 9
duration: 3s
drain: 5s
target: {coap: "coaps://%s"}
groups:
  - name: trackers
    protocol: coap
    count: 200
    connect: {rate: 1000/s, timeout: 20s}
    dtls: {ca: %q, client_certificates: true, client_ca_cert: %q, client_ca_key: %q}
    telemetry: {every: 1s, path: "/t/{{index}}", method: PUT}
`, srv.SecureAddr(), caFile, caFile, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 9, rec)
	k := rec.kinds
	if k[sim.Connected] != 200 || k[sim.ConnectFailed] != 0 || k[sim.Published] < 400 || k[sim.Acked] != k[sim.Published] {
		t.Errorf("connected %d, failed %d (%v), published %d, acked %d: want 200, 0, >= 400, all acked",
			k[sim.Connected], k[sim.ConnectFailed], rec.errs, k[sim.Published], k[sim.Acked])
	}
}

// With no server to set up: DTLS devices and plain ones against the
// embedded CoAP server, which listens for both and plays the backend, so
// the DTLS fleet is timed end to end and takes commands too.
func TestRunCoAPOverDTLSAgainstTheEmbeddedServer(t *testing.T) {
	s, err := Parse("embedded-dtls.yaml", []byte(`version: 1
name: embedded-dtls
seed: 10
duration: 3s
drain: 5s
groups:
  - name: secure
    protocol: coap
    count: 50
    dtls: {identity: "s-{{index}}", key: fleet-secret}
    telemetry: {every: 500ms}
    commands: {every: 1s}
  - name: plain
    protocol: coap
    count: 20
    telemetry: {every: 500ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 10, rec)
	at := func(g int, k sim.EventKind) int { return rec.groups[[2]int{g, int(k)}] }
	if at(0, sim.Connected) != 50 || rec.named["dtls_full_handshake"] != 50 || at(1, sim.Connected) != 20 {
		t.Errorf("connected %d DTLS (%d handshakes) and %d plain: want 50 (50) and 20 (errors %v)",
			at(0, sim.Connected), rec.named["dtls_full_handshake"], at(1, sim.Connected), rec.errs)
	}
	for g := range 2 {
		if p, d := at(g, sim.Published), at(g, sim.Delivered); p < 100 || d != p {
			t.Errorf("group %d: published %d, delivered %d: want >= 100, all delivered", g, p, d)
		}
	}
	if c, r := at(0, sim.CommandSent), at(0, sim.CommandReplied); c < 50 || r != c {
		t.Errorf("DTLS group's commands: sent %d, replied %d: want >= 50, all replied", c, r)
	}
}
