package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// A staged run against Mosquitto writes the four reports, and report.html
// and summary.md carry the capacity section: a headline over the held
// stages, who ran out first and the throughput fit.
func TestRunMosquittoStagedWritesTheCapacitySection(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	s := mosquittoScenario(m.Addr(), `drain: 3s
groups:
  - {name: d, count: 600, connect: {rate: 2000/s}, telemetry: {every: 250ms, qos: 1}}
stages:
  - {name: ramp-200, duration: 1s, devices: 200}
  - {name: hold-200, duration: 3s, devices: 200}
  - {name: ramp-400, duration: 1s, devices: 400}
  - {name: hold-400, duration: 3s, devices: 400}
  - {name: ramp-600, duration: 1s, devices: 600}
  - {name: hold-600, duration: 3s, devices: 600}
thresholds:
  - "latency.ack.p99 < 5s"
`)
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", out, "--web", "off")
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s%s", code, stdout, errs)
	}
	for _, name := range []string{"report.html", "junit.xml", "summary.md", "timeseries.csv"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("no %s: %v", name, err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	md, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	for _, want := range []string{"600 devices", "ran out first", "Universal Scalability Law", "hold-400"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if !strings.Contains(string(md), "devices") || !strings.Contains(string(md), "ran out") {
		t.Errorf("summary.md lacks the capacity findings:\n%s", md)
	}
	if !strings.Contains(stdout, "report: "+filepath.Join(out, "report.html")) {
		t.Errorf("stdout does not name the report:\n%s", stdout)
	}
}
