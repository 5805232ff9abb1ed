package main

import (
	"strings"
	"testing"

	"github.com/m2msim/m2msim/report"
)

// The firmware campaign example, cut to 40 meters and a 20 s run over
// the same NB-IoT link, against the embedded LwM2M server: every meter
// registers, its readings are timed end to end through Send, its
// commands replied through the server's Writes, and most meters update
// their firmware, each download timed (a block lost on the link costs
// 2 s and more, so a few may not finish before the run ends; the
// scenarios package's test over loopback wants every one).
func TestRunLwM2MExampleEmbedded(t *testing.T) {
	out := t.TempDir()
	f := shortExample(t, "firmware-campaign.yaml", "duration: 4m30s", "duration: 20s", "count: 1000", "count: 40",
		"every: 60s", "every: 5s", "every: 2m", "every: 10s", "at: 20s", "at: 2s", "spread: 60s", "spread: 4s",
		"image: 64KiB", "image: 4KiB", "install: 10s", "install: 1s", "drain: 30s", "drain: 8s")
	code, stdout, errs := cli(t, t.Context(), "run", f, "--out", out, "--web", "off")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	r := readResult(t, out)
	m := r.Messages
	if m.Sent < 80 || m.Acked != m.Sent || m.Received != m.Sent || r.Commands.Sent < 40 || r.Commands.Replied != r.Commands.Sent {
		t.Errorf("messages %+v, commands %+v: want all acked and delivered, all commands replied\n%s", m, r.Commands, stdout)
	}
	g := r.Groups[0]
	if n := g.Counts["lwm2m_fw_updated"]; g.Protocol != "lwm2m" || n < 30 || n+g.Counts["lwm2m_fw_failed"] > 40 {
		t.Errorf("group %q protocol %q counts %v: want lwm2m, >= 30 of 40 updated", g.Name, g.Protocol, g.Counts)
	}
	if r.Metrics == nil || r.Metrics.Latency["lwm2m_fw_download"] == nil || r.Metrics.Latency["lwm2m_register"] == nil {
		t.Errorf("metrics lack lwm2m_fw_download or lwm2m_register:\n%s", stdout)
	}
	if !strings.Contains(stdout, "embedded LwM2M server at 127.0.0.1:") || !strings.Contains(stdout, "lwm2m_fw_updated") {
		t.Errorf("stdout lacks the target or the counts line:\n%s", stdout)
	}
	if r.Status != report.StatusPassed {
		t.Errorf("status %q, want passed:\n%s", r.Status, stdout)
	}
}
