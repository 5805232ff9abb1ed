package main

import (
	"strings"
	"testing"

	"github.com/m2msim/m2msim/report"
)

// The WebSocket example, cut to 100 gateways and 15 s, against the
// embedded broker over MQTT over WebSocket through its Wi-Fi link:
// readings acked and delivered end to end, commands replied, the target
// named by the URL devices dial.
func TestRunWebSocketExampleEmbedded(t *testing.T) {
	out := t.TempDir()
	f := shortExample(t, "ws-gateways.yaml", "duration: 1m", "duration: 15s", "count: 500", "count: 100",
		"every: 30s", "every: 5s")
	code, stdout, errs := cli(t, t.Context(), "run", f, "--out", out, "--web", "off")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	r := readResult(t, out)
	m := r.Messages
	if m.Sent < 100 || m.Acked != m.Sent || m.Received != m.Sent || r.Commands.Sent < 100 || r.Commands.Replied != r.Commands.Sent {
		t.Errorf("messages %+v, commands %+v: want all acked and delivered, all commands replied\n%s", m, r.Commands, stdout)
	}
	if !strings.Contains(stdout, "embedded broker at ws://127.0.0.1:") {
		t.Errorf("stdout does not name the WebSocket URL devices dial:\n%s", stdout)
	}
	if r.Status != report.StatusPassed {
		t.Errorf("status %q, want passed:\n%s", r.Status, stdout)
	}
}
