package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// cliWithin runs the CLI like cli, and fails the test if the run has not
// returned within limit: a hang is a failure, not a test timeout that
// takes the whole package down.
func cliWithin(t *testing.T, limit time.Duration, args ...string) (int, string, string, time.Duration) {
	t.Helper()
	type res struct {
		code        int
		stdout, err string
	}
	done := make(chan res, 1)
	start := time.Now()
	go func() {
		code, out, errs := cli(t, context.Background(), args...)
		done <- res{code, out, errs}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("m2msim %s did not return within %v: it hangs", strings.Join(args, " "), limit)
		return 0, "", "", 0
	}
}

// exampleAgainst is a shipped example with its target pointed at addr.
func exampleAgainst(t *testing.T, name, addr string) string {
	t.Helper()
	b, err := os.ReadFile("../../scenarios/examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "broker: embedded", "broker: tcp://"+addr, 1)
	if s == string(b) {
		t.Fatalf("%s: no embedded target to replace", name)
	}
	return writeScenario(t, s)
}

// The vending machines against a Mosquitto that stops for 5 s: the
// backend's window of unacknowledged publishes fills while the broker is
// stopped, which once deadlocked the backend's own reader and every shard.
// The run must end on time with every request answered and every command
// replied once the broker is back.
func TestRunMosquittoVendingSurvivesAStall(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	f := exampleAgainst(t, "vending-machines.yaml", m.Addr())
	time.AfterFunc(7*time.Second, func() {
		m.Pause()
		time.AfterFunc(5*time.Second, m.Resume)
	})
	out := t.TempDir()
	code, stdout, errs, took := cliWithin(t, 2*time.Minute, "run", f, "--duration", "18s", "--out", out, "--progress", "0")
	if code != exitOK && code != exitThreshold {
		t.Fatalf("run = exit %d after %v\n%s%s", code, took, stdout, errs)
	}
	if took > 18*time.Second+5*time.Second+5*time.Second {
		t.Errorf("run took %v, want about its 18 s and at most its 5 s drain", took)
	}
	r := readResult(t, out)
	if r.Requests.Sent < 300 || r.Requests.Answered != r.Requests.Sent {
		t.Errorf("requests %+v: want ~400 sent, every one answered (errors %v, warnings %q)", r.Requests, r.Errors, r.Warnings)
	}
	if r.Commands.Sent < 60 || r.Commands.Replied != r.Commands.Sent {
		t.Errorf("commands %+v: want ~130 sent, every one replied (errors %v, warnings %q)", r.Commands, r.Errors, r.Warnings)
	}
	if r.LatencyMS.Request.Max < 3000 {
		t.Errorf("request max %.0f ms, want the ~5 s stall to show", r.LatencyMS.Request.Max)
	}
}

// A broker killed for good while the scenario sends commands: the backend
// cannot reconnect and devices cannot either, yet the run ends within its
// duration and drain, with its result.
func TestRunMosquittoKilledWithCommandsEndsOnTime(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	s := mosquittoScenario(m.Addr(), `duration: 12s
drain: 5s
groups:
  - name: d
    count: 2000
    connect: {rate: 2000/s}
    telemetry: {every: 10s, qos: 1}
    commands: {every: 1s, qos: 1}
    reconnect: {backoff: fixed, initial: 1s}
`)
	time.AfterFunc(5*time.Second, m.Stop)
	out := t.TempDir()
	code, stdout, errs, took := cliWithin(t, 2*time.Minute, "run", writeScenario(t, s), "--out", out, "--progress", "0")
	if code != exitOK {
		t.Fatalf("run = exit %d after %v\n%s%s", code, took, stdout, errs)
	}
	if took > 12*time.Second+5*time.Second+5*time.Second {
		t.Errorf("run took %v, want its 12 s and at most its 5 s drain", took)
	}
	r := readResult(t, out)
	if r.Devices.Disconnects < 1900 || r.Devices.ConnectFailures == 0 {
		t.Errorf("devices %+v: want every device disconnected and failing to reconnect", r.Devices)
	}
	if r.Commands.Sent == 0 || r.Errors.Total() == 0 {
		t.Errorf("commands %+v, errors %v: want commands before the kill and errors after", r.Commands, r.Errors)
	}
	if !strings.Contains(stdout, "result:") {
		t.Errorf("no result line in the output:\n%s", stdout)
	}
}
