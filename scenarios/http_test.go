package scenarios

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// runWeb opens s's targets, gives devices tlsFor (when set), starts
// during (when set) beside the run, and runs s through the engine; the
// run is bounded whatever the servers do.
func runWeb(t *testing.T, s *Scenario, rec sim.Recorder, tlsFor func(int) *tls.Config, during func(*Runtime)) {
	t.Helper()
	rt, err := Open(t.Context(), s, s.Seed, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rt.Close()
	if tlsFor != nil {
		rt.SetDeviceTLS(tlsFor)
	}
	e, err := sim.New(s.Plan(), sim.Options{Connector: rt.Connector, Receiver: rt.Receiver, Sender: rt.Sender, Recorder: rec, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if during != nil {
		go during(rt)
	}
	if err := e.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// webFleet is a 200-device scenario of protocol with telemetry, requests
// and commands, against target (YAML for the target and backend keys).
func webFleet(t *testing.T, protocol, target, extra string) *Scenario {
	t.Helper()
	s, err := Parse(protocol+".yaml", fmt.Appendf(nil, `version: 1
name: web
seed: 11
duration: 4s
drain: 6s
%s
groups:
  - name: gw
    protocol: %s
    count: 200
    connect: {rate: 1000/s}
%s
    telemetry: {every: 1s}
    requests: {every: 2s}
    commands: {every: 2s}
`, target, protocol, extra))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// timedTally is an eventTally that also counts, by kind, the events
// timed end to end: with a latency, not marked untimed.
type timedTally struct {
	*eventTally
	timed map[sim.EventKind]int // guarded by eventTally.mu
}

func newTimedTally() *timedTally {
	return &timedTally{eventTally: newTally(), timed: map[sim.EventKind]int{}}
}

func (r *timedTally) Record(ev sim.Event) {
	r.eventTally.Record(ev)
	if ev.Latency >= 0 && ev.Err == "" {
		r.mu.Lock()
		r.timed[ev.Kind]++
		r.mu.Unlock()
	}
}

// checkAccounted checks that every message of the run closed its flow:
// telemetry acknowledged (HTTP) and delivered, requests answered,
// commands replied, nothing failed.
func checkAccounted(t *testing.T, rec *timedTally, acked bool) {
	t.Helper()
	k := rec.kinds
	for _, kind := range []sim.EventKind{sim.Delivered, sim.RequestAnswered, sim.CommandReplied} {
		if rec.timed[kind] != k[kind] || k[kind] == 0 {
			t.Errorf("%v: %d events, %d with a latency: want all timed end to end", kind, k[kind], rec.timed[kind])
		}
	}
	if k[sim.Published] < 400 || k[sim.Delivered] != k[sim.Published] || (acked && k[sim.Acked] != k[sim.Published]) {
		t.Errorf("telemetry: published %d, acked %d, delivered %d: want >= 400, all delivered (and acked: %v)",
			k[sim.Published], k[sim.Acked], k[sim.Delivered], acked)
	}
	if k[sim.RequestSent] < 200 || k[sim.RequestAnswered] != k[sim.RequestSent] {
		t.Errorf("requests: sent %d, answered %d: want >= 200, all answered", k[sim.RequestSent], k[sim.RequestAnswered])
	}
	if k[sim.CommandSent] < 200 || k[sim.CommandReplied] != k[sim.CommandSent] {
		t.Errorf("commands: sent %d, replied %d: want >= 200, all replied", k[sim.CommandSent], k[sim.CommandReplied])
	}
	if n := k[sim.PublishFailed] + k[sim.Unacked] + k[sim.ConnectFailed] + k[sim.Disconnected]; n != 0 {
		t.Errorf("%d failures, want none: %v", n, rec.errs)
	}
}

func TestRunHTTPAgainstTheEmbeddedEndpoint(t *testing.T) {
	s := webFleet(t, "http", "", "")
	rec := newTimedTally()
	runWeb(t, s, rec, nil, nil)
	checkAccounted(t, rec, true)
	if rec.named["http_204"] == 0 || rec.named["http_200"] == 0 {
		t.Errorf("statuses %v: want 204s (deliveries) and 200s (answers, polls)", rec.named)
	}
}

func TestRunWebSocketAgainstTheEmbeddedEndpoint(t *testing.T) {
	s := webFleet(t, "websocket", "", "")
	rec := newTimedTally()
	runWeb(t, s, rec, nil, nil)
	checkAccounted(t, rec, false)
}
