package main

import (
	"strings"
	"testing"

	"github.com/m2msim/m2msim/report"
)

// The HTTP example, cut short, against m2msim's own endpoint: readings
// delivered and timed end to end, commands long-polled and replied,
// requests answered, the injected 429s counted and retried, statuses
// counted per group.
func TestRunHTTPExample(t *testing.T) {
	out := t.TempDir()
	f := shortExample(t, "http-gateways.yaml", "duration: 1m", "duration: 8s", "drain: 35s", "drain: 10s",
		"count: 150", "count: 40", "count: 50", "count: 20", "count: 100", "count: 40",
		"every: 20s", "every: 2s", "every: 20s", "every: 2s", "every: 50,", "every: 10,")
	code, stdout, errs := cli(t, t.Context(), "run", f, "--out", out, "--web", "off")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, errs)
	}
	r := readResult(t, out)
	m := r.Messages
	if m.Sent < 60 || m.Received != m.Sent || r.Commands.Sent < 40 || r.Commands.Replied != r.Commands.Sent ||
		r.Requests.Answered != r.Requests.Sent {
		t.Errorf("messages %+v, commands %+v, requests %+v: want all delivered, replied and answered\n%s", m, r.Commands, r.Requests, stdout)
	}
	var retried int64
	for _, g := range r.Groups[:2] {
		if g.Protocol != "http" || g.Counts["http_204"] == 0 {
			t.Errorf("group %q: protocol %q, counts %v: want http with 204s", g.Name, g.Protocol, g.Counts)
		}
		retried += g.Counts["http_429"]
	}
	if retried == 0 {
		t.Errorf("no http_429 counted with every 10th request refused:\n%s", stdout)
	}
	if !strings.Contains(stdout, "m2msim's HTTP endpoint at 127.0.0.1:") {
		t.Errorf("stdout does not name the endpoint:\n%s", stdout)
	}
	if r.Status != report.StatusPassed {
		t.Errorf("status %q, want passed:\n%s", r.Status, stdout)
	}
}
