package main

import (
	"os"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
)

// shortExample is a shipped example cut to a short run.
func shortExample(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile("../../scenarios/examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("%s has no %q to replace", name, replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	return writeScenario(t, s)
}

// The CoAP example, as shipped, against the embedded CoAP server over its
// NB-IoT link: readings timed end to end, commands replied, requests
// answered, responses counted by code, the report written.
func TestRunCoAPExampleEmbedded(t *testing.T) {
	out := t.TempDir()
	f := shortExample(t, "coap-sensors.yaml", "duration: 1m", "duration: 12s", "count: 200", "count: 60")
	code, stdout, errs := cli(t, t.Context(), "run", f, "--out", out, "--web", "off")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	r := readResult(t, out)
	m := r.Messages
	if m.Sent < 40 || m.Received != m.Sent || m.Acked != m.Sent || r.Commands.Replied != r.Commands.Sent || r.Commands.Sent < 20 ||
		r.Requests.Answered != r.Requests.Sent {
		t.Errorf("messages %+v, commands %+v, requests %+v: want all delivered, replied and answered\n%s", m, r.Commands, r.Requests, stdout)
	}
	if g := r.Groups[0]; g.Protocol != "coap" || g.Counts["coap_2_01"] == 0 || g.Counts["coap_2_05"] != int64(r.Requests.Answered) {
		t.Errorf("group %q protocol %q counts %v: want coap, creations, one 2.05 per answered request", g.Name, g.Protocol, g.Counts)
	}
	if !strings.Contains(stdout, "embedded CoAP server at 127.0.0.1:") || !strings.Contains(stdout, "counts    coap_2_01") {
		t.Errorf("stdout lacks the target or the counts line:\n%s", stdout)
	}
	if r.Status != report.StatusPassed {
		t.Errorf("status %q, want passed:\n%s", r.Status, stdout)
	}
}

// The same fleet against libcoap's server: no backend sees what it is
// sent, so nothing is timed end to end and the summary says so plainly.
func TestRunCoAPAgainstLibcoap(t *testing.T) {
	srv := coaptest.StartServer(t, "notls", "-d", "1000")
	out := t.TempDir()
	f := shortExample(t, "coap-sensors.yaml", "duration: 1m", "duration: 8s", "count: 200", "count: 40",
		"coap: embedded", "coap: coap://"+srv.Addr(), `path: "/sensors/{{index}}/config"`, "path: /time", "    commands:", "    xcommands:")
	s, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the commands block and its threshold: only the embedded server sends commands.
	body := string(s)
	body = body[:strings.Index(body, "    xcommands:")] + "thresholds:\n  - \"latency.ack.p99 < 20s\"\n"
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, body), "--out", out, "--web", "off")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	r := readResult(t, out)
	if r.Messages.Sent < 20 || r.Messages.Acked != r.Messages.Sent || r.Messages.Timed != 0 || r.Requests.Answered != r.Requests.Sent {
		t.Errorf("messages %+v requests %+v: want all acked, none timed, all requests answered\n%s", r.Messages, r.Requests, stdout)
	}
	for _, want := range []string{"against CoAP server coap://" + srv.Addr(), "lost      not measured", "acked"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "backend   ") {
		t.Errorf("stdout has a backend line though no backend took part:\n%s", stdout)
	}
}

// The mixed fleet, as shipped but shorter: MQTT 5 over TLS, CoAP over
// DTLS, LwM2M over DTLS, HTTP, WebSocket and MQTT-over-WebSocket devices
// against the embedded servers in one run, every group timed end to end,
// reported per protocol and held to its protocol's (and the MQTT over
// WebSocket group to its group's) thresholds.
func TestRunMixedFleetExample(t *testing.T) {
	out := t.TempDir()
	f := shortExample(t, "mixed-fleet.yaml", "duration: 1m", "duration: 15s", "drain: 20s", "drain: 10s",
		"count: 300", "count: 60", "count: 300", "count: 60", "count: 200", "count: 40", "count: 100", "count: 20",
		"count: 100", "count: 20", "count: 100", "count: 20",
		// A command sent in the last seconds of so short a run may find its
		// device still waking when the drain ends.
		`  - "latency.command.p99 < 30s"`, "")
	code, stdout, errs := cli(t, t.Context(), "run", f, "--out", out, "--web", "off")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	r := readResult(t, out)
	var names []string
	for _, p := range r.Protocols {
		names = append(names, p.Protocol)
		if m := p.Messages; m.Sent == 0 || m.Received+m.Unacked < m.Sent || p.Commands.Replied == 0 {
			t.Errorf("protocol %s: messages %+v, commands %+v: want some, all received (or still unacknowledged), commands replied",
				p.Protocol, m, p.Commands)
		}
	}
	if strings.Join(names, " ") != "mqtt coap lwm2m http websocket" {
		t.Fatalf("protocols %v, want mqtt, coap, lwm2m, http and websocket", names)
	}
	for g, want := range map[int]string{0: "tls_full_handshake", 1: "dtls_full_handshake", 2: "dtls_full_handshake"} {
		if n := r.Groups[g].Counts[want]; n == 0 {
			t.Errorf("%s: counts %v: want %s", r.Groups[g].Name, r.Groups[g].Counts, want)
		}
	}
	scoped := 0
	for _, th := range r.Thresholds {
		if strings.HasPrefix(th.Expr, "protocol.") {
			scoped++
			if !th.Passed {
				t.Errorf("threshold %s failed: %s", th.Expr, th.Reason)
			}
		}
	}
	if scoped != 5 {
		t.Errorf("%d per-protocol thresholds judged, want 5", scoped)
	}
	panels := r.Groups[5]
	if panels.Name != "panels" || panels.Messages.Sent == 0 || panels.Messages.Received < panels.Messages.Sent-panels.Messages.Unacked ||
		panels.Counts["tls_full_handshake"] != 0 {
		t.Errorf("panels (MQTT over WebSocket): %+v: want messages all received, and no TLS handshakes", panels)
	}
	for _, th := range r.Thresholds {
		if strings.HasPrefix(th.Expr, "group.panels.") && !th.Passed {
			t.Errorf("threshold %s failed: %s", th.Expr, th.Reason)
		}
	}
}
