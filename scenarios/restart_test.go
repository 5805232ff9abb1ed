package scenarios

import (
	"context"
	"testing"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/transports/mqtt"
)

func TestParseRestartProblems(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1m\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n"
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"external broker", head + "target: {broker: tcp://h, restart: {at: [10s]}}\n", []string{"target.restart: m2msim can restart only its embedded broker"}},
		{"no times", head + "target: {restart: {down: 1s}}\n", []string{"target.restart.at: required"}},
		{"outside the run", head + "target: {restart: {at: [0s, 2m]}}\n", []string{"target.restart.at: each time must be inside the run (0 to 1m0s), got 0s", "got 2m0s"}},
		{"overlap", head + "target: {restart: {at: [20s, 10s], down: 15s}}\n", []string{"target.restart.at: restarts at 10s and 20s overlap"}},
		{"down", head + "target: {restart: {at: [10s], down: 0s}}\n", []string{"target.restart.down: must be more than 0"}},
		{"ticket keys word", head + "target: {tls: {}, restart: {at: [10s], ticket_keys: rotate}}\n", []string{`target.restart.ticket_keys: must be keep or new, got "rotate"`}},
		{"ticket keys without tls", head + "target: {restart: {at: [10s], ticket_keys: new}}\n", []string{"target.restart.ticket_keys: applies to a TLS broker"}},
		{"unknown key", head + "target: {restart: {at: [10s], every: 5s}}\n", []string{"every"}},
	}
	for _, c := range cases {
		wantProblems(t, c.name, c.doc, c.want)
	}
	s, err := Parse("t.yaml", []byte(head+"target: {restart: {at: [10s, 30s]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Target.Restart; r.Down != defaultRestartDown || r.TicketKeys != ticketKeysKeep || len(r.At) != 2 {
		t.Errorf("restart %+v: want the defaults (down %s, ticket keys keep)", r, defaultRestartDown)
	}
}

type lostOnce struct{ ch chan error }

func (l lostOnce) Acked(uint16)           {}
func (l lostOnce) Message(string, []byte) {}
func (l lostOnce) Lost(err error)         { l.ch <- err }

// The runtime restarts its embedded broker on the run clock: a client is
// dropped at the planned time, the restart is counted, and the broker is
// back on the same address after the down time.
func TestRuntimeRestartsTheEmbeddedBroker(t *testing.T) {
	s, err := Parse("t.yaml", []byte("version: 1\nname: t\nduration: 10s\ntarget: {restart: {at: [300ms], down: 300ms}}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Open(t.Context(), s, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	h := lostOnce{ch: make(chan error, 1)}
	c, err := mqtt.Connect(t.Context(), mqtt.Options{Addr: rt.Addr, ClientID: "d", CleanSession: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	origin := time.Now()
	rec := newTally()
	stop := rt.StartRestarts(s, func() time.Duration { return time.Since(origin) }, rec, nil)
	defer stop()
	select {
	case <-h.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("client not dropped within 5s of a restart planned at 300ms")
	}
	if d := time.Since(origin); d < 250*time.Millisecond {
		t.Errorf("dropped after %s, before the planned 300ms", d)
	}
	var back *mqtt.Session
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		back, err = mqtt.Connect(ctx, mqtt.Options{Addr: rt.Addr, ClientID: "d", CleanSession: true}, nil)
		cancel()
		if err == nil {
			break
		}
	}
	if back == nil {
		t.Fatalf("broker not back at %s within 5s: %v", rt.Addr, err)
	}
	back.Close()
	if d := time.Since(origin); d < 550*time.Millisecond {
		t.Errorf("broker back after %s, before its 300ms down time had passed", d)
	}
	stop()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.named[report.CounterBrokerRestart] != 1 {
		t.Errorf("counted %v, want one %s", rec.named, report.CounterBrokerRestart)
	}
}
