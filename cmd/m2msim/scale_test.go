package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/m2msim/m2msim/internal/nginxtest"
	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
	"github.com/m2msim/m2msim/transports/pki"
)

// The fleets of the "Done when", at their size, through the CLI:
// each device's flows timed end to end, nothing lost, no error left
// unexplained.

// writeCA writes a throwaway CA's certificate and key to files.
func writeCA(t *testing.T, ca *pki.CA) (cert, key string) {
	t.Helper()
	dir := t.TempDir()
	k, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	if err := os.WriteFile(cert, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, k, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// 5,000 MQTT 5 devices over TLS, each with its own client certificate,
// against a Mosquitto that requires one: every device connects, every
// QoS 1 report is acknowledged and delivered, and every handshake is
// timed.
func TestRunMQTT5OverTLS5000Devices(t *testing.T) {
	const n = 5000
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	// The backend's queue at the broker is not what this test measures:
	// on a loaded machine a burst must not overflow Mosquitto's default
	// 1,000 messages per client.
	m := mqtttest.StartMosquitto(t, mqtttest.WithTLS(mqtttest.TLS{CA: ca, RequireCertificate: true}),
		mqtttest.WithConfig("max_queued_messages 100000"))
	cert, key := writeCA(t, ca)
	r := runResult(t, fmt.Sprintf(`version: 1
name: tls5
seed: 5
duration: 25s
drain: 15s
target:
  broker: mqtts://%s
  tls: {ca: %q, client_certificates: true, client_ca_cert: %q, client_ca_key: %q, resumption: true}
backend: {connections: 4}
groups:
  - name: meters
    count: %d
    mqtt: {protocol_version: 5}
    connect: {rate: 500/s, timeout: 30s}
    telemetry: {every: 10s, qos: 1}
`, m.Addr(), cert, cert, key, n))
	hs := r.Metrics.Latency["tls_handshake"]
	t.Logf("connect p50 %.0f ms, p99 %.0f ms; ack p99 %.1f ms; %d handshakes timed",
		r.LatencyMS.Connect.P50.V, r.LatencyMS.Connect.P99.V, r.LatencyMS.Ack.P99.V, hs.Run.N)
	if r.Devices.ConnectedMax != n || r.Devices.ConnectFailures != 0 || r.Groups[0].Counts["tls_full_handshake"] != n {
		t.Errorf("devices %+v, counts %v: want all %d connected at once, each after a full handshake", r.Devices, r.Groups[0].Counts, n)
	}
	checkClean(t, r, n)
	if hs == nil || hs.Run.N != n {
		t.Errorf("tls_handshake histogram %+v, want %d handshakes", hs, n)
	}
}

// checkClean checks that at least min reports went out and every one
// was delivered, with no error of any kind.
func checkClean(t *testing.T, r *report.Result, min int64) {
	t.Helper()
	if m := r.Messages; m.Sent < min || m.Lost != 0 || m.Received < m.Sent {
		t.Errorf("messages %+v: want >= %d sent, every one delivered (warnings: %q)", m, min, r.Warnings)
	}
	if n := r.Errors.Total(); n != 0 {
		t.Errorf("%d errors (%v), want none", n, r.Errors)
	}
}

// 2,000 HTTP and 2,000 WebSocket devices through Debian's nginx, and
// 2,000 MQTT-over-WebSocket devices to the embedded broker: every report
// delivered and timed end to end, every command replied.
func TestRunWebFleetsAtScale(t *testing.T) {
	const n = 2000
	for _, c := range []struct{ name, target, group string }{
		{"http", "http: %q", "protocol: http\n    http: {long_poll: 10s}"},
		{"websocket", "websocket: %q", "protocol: websocket"},
		{"mqtt-over-websocket", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := "broker: embedded+ws"
			if c.target != "" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				listen := ln.Addr().String()
				ln.Close()
				// Two connections a device (a long poll beside its reports),
				// and as many to the endpoint.
				ngx := nginxtest.Start(t, nginxtest.Options{Upstream: listen, WorkerConnections: 9000})
				scheme := map[string]string{"http": "http://", "websocket": "ws://"}[c.name]
				target = fmt.Sprintf(c.target, scheme+ngx.Addr()) + "}\nbackend: {listen: " + fmt.Sprintf("%q", listen)
			}
			r := runResult(t, fmt.Sprintf(`version: 1
name: web
seed: 7
duration: 15s
drain: 15s
target: {%s}
groups:
  - name: gw
    count: %d
    %s
    connect: {rate: 500/s, timeout: 30s}
    telemetry: {every: 5s}
    commands: {every: 10s}
`, target, n, c.group))
			t.Logf("%s: e2e p50 %.1f ms, p99 %.1f ms; command p99 %.1f ms", c.name,
				r.LatencyMS.E2E.P50.V, r.LatencyMS.E2E.P99.V, r.LatencyMS.Command.P99.V)
			if r.Devices.ConnectedMax != n || r.Devices.ConnectFailures != 0 {
				t.Errorf("devices %+v: want all %d connected", r.Devices, n)
			}
			checkClean(t, r, 2*n)
			if c := r.Commands; c.Sent < n/2 || c.Unanswered > c.Sent/100 {
				t.Errorf("commands %+v: want >= %d, nearly all replied", c, n/2)
			}
		})
	}
}

// The reconnect storm example, shorter: the broker restarts twice, every
// device reconnects after each, and every reconnect of the resumed fleet
// resumes, none of the full fleet's does.
func TestRunTLSStormExample(t *testing.T) {
	out := t.TempDir()
	// A tenth of the fleet sends a tenth of the messages, while the
	// messages in flight when each restart cuts the connections stay
	// about as many: the share lost is larger.
	f := shortExample(t, "tls-storm.yaml", "duration: 1m", "duration: 45s", "at: [20s, 40s]", "at: [10s, 25s]",
		"count: 1000", "count: 100", "count: 1000", "count: 100", `"messages.loss < 5%"`, `"messages.loss < 30%"`)
	code, stdout, errs := cli(t, t.Context(), "run", f, "--out", out, "--web", "off")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	r := readResult(t, out)
	resumed, full := r.Groups[0].Counts, r.Groups[1].Counts
	// A reconnect whose handshake the restart cut short can lose its
	// ticket and pay a full handshake the next time: most, not all, resume.
	if resumed["tls_full_handshake"] < 100 || resumed["tls_resumed"] < 150 || resumed["tls_resumed"] < 3*(resumed["tls_full_handshake"]-100) ||
		full["tls_resumed"] != 0 || full["tls_full_handshake"] < 300 {
		t.Errorf("resumed fleet %v, full fleet %v: want 100 full handshakes, then mostly resumed ones; and only full ones", resumed, full)
	}
	if c := r.Metrics.Counters["broker_restart"]; c == nil || c.Run != 2 {
		t.Errorf("broker_restart counter %+v, want 2", c)
	}
	if d := r.Devices; d.Disconnects != 400 || d.Connects != 600 || d.Closed != 200 {
		t.Errorf("devices %+v: want every device to reconnect after each restart", r.Devices)
	}
}
