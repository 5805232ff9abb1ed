package scenarios

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

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
	// slow counts, by kind, the events whose latency is a second or more.
	slow map[sim.EventKind]int // guarded by eventTally.mu
}

func newTimedTally() *timedTally {
	return &timedTally{eventTally: newTally(), timed: map[sim.EventKind]int{}, slow: map[sim.EventKind]int{}}
}

func (r *timedTally) Record(ev sim.Event) {
	r.eventTally.Record(ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Latency >= 0 && ev.Err == "" {
		r.timed[ev.Kind]++
	}
	if ev.Latency >= time.Second {
		r.slow[ev.Kind]++
	}
}

// checkAccounted checks that every message of the run closed its flow:
// telemetry acknowledged (HTTP) and delivered, requests answered,
// commands replied, nothing failed.
func checkAccounted(t *testing.T, rec *timedTally, acked bool) {
	t.Helper()
	checkAccountedPolled(t, rec, acked, 0)
}

// checkAccountedPolled is checkAccounted for devices that poll for
// commands every poll: a command that reaches its device after the run's
// duration gets no reply (the engine sends nothing then), so up to a
// poll's worth of the fleet's commands may go unreplied.
func checkAccountedPolled(t *testing.T, rec *timedTally, acked bool, unreplied int) {
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
	if k[sim.CommandSent] < 200 || k[sim.CommandReplied] > k[sim.CommandSent] || k[sim.CommandReplied] < k[sim.CommandSent]-unreplied {
		t.Errorf("commands: sent %d, replied %d: want >= 200, all but %d replied", k[sim.CommandSent], k[sim.CommandReplied], unreplied)
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

// The endpoint answers every 10th device request 429 with Retry-After:
// 1: each is counted, the device waits a second and retries, and every
// message still closes its flow.
func TestRunHTTPTooManyRequestsRetried(t *testing.T) {
	// A retry is every 10th request again one time in ten: 10 retries make
	// a message that runs out of them (and fails as http_429) unlikely.
	s := webFleet(t, "http", "backend: {faults: {every: 10, status: 429, retry_after: 1s}}", "    http: {retries: 10}")
	rec := newTimedTally()
	runWeb(t, s, rec, nil, nil)
	checkAccounted(t, rec, true)
	n := rec.named["http_429"]
	if n < 100 {
		t.Errorf("%d x http_429 counted, want >= 100 (a tenth of the requests): %v", n, rec.named)
	}
	// A retried report or request is acknowledged after the Retry-After
	// second; without 429s all take milliseconds on loopback.
	if slow := rec.slow[sim.Acked] + rec.slow[sim.RequestAnswered]; slow == 0 || slow > n {
		t.Errorf("%d acks and answers took >= 1s, want some, at most one per 429 (%d)", slow, n)
	}
}

// A 503 fails its message with a typed error counted by its code.
func TestRunHTTPServiceUnavailableFails(t *testing.T) {
	s, err := Parse("503.yaml", []byte(`version: 1
name: unavailable
seed: 2
duration: 3s
drain: 3s
backend: {faults: {every: 4, status: 503}}
groups:
  - name: gw
    protocol: http
    count: 50
    telemetry: {every: 500ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTimedTally()
	runWeb(t, s, rec, nil, nil)
	k := rec.kinds
	failed, counted := rec.errs["unacked:http_503"], rec.named["http_503"]
	if failed == 0 || failed != counted || k[sim.Acked]+failed != k[sim.Published] {
		t.Errorf("published %d, acked %d, unacked as http_503 %d, 503s counted %d: want each 503 to fail its message",
			k[sim.Published], k[sim.Acked], failed, counted)
	}
	if k[sim.Published] < 4*failed-8 || k[sim.Published] > 4*failed+8 {
		t.Errorf("%d of %d failed, want about a quarter", failed, k[sim.Published])
	}
}

// A connection per request, commands by interval polling, CBOR bodies:
// every flow still closes.
func TestRunHTTPConnectionPerRequest(t *testing.T) {
	s := webFleet(t, "http", "", "    http: {keepalive: false, poll: 500ms, content_type: cbor}")
	rec := newTimedTally()
	runWeb(t, s, rec, nil, nil)
	// 200 devices, a command each every 2 s, polled every 500 ms: about
	// 50 commands reach their devices after the end.
	checkAccountedPolled(t, rec, true, 60)
}

// A sleeping device (per-report) connects for each report and request.
func TestRunHTTPPerReport(t *testing.T) {
	s, err := Parse("sleepy.yaml", []byte(`version: 1
name: sleepy
seed: 6
duration: 3s
drain: 3s
groups:
  - name: meters
    protocol: http
    count: 50
    connect: {mode: per-report}
    telemetry: {every: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTimedTally()
	runWeb(t, s, rec, nil, nil)
	k := rec.kinds
	if k[sim.Published] < 100 || k[sim.Delivered] != k[sim.Published] || k[sim.Connected] < k[sim.Published] {
		t.Errorf("published %d, delivered %d, connections %d: want >= 100 delivered, a connection per report",
			k[sim.Published], k[sim.Delivered], k[sim.Connected])
	}
}

func TestToCBORKeepsTheToken(t *testing.T) {
	tok := sim.Token{Kind: sim.TokenTelemetry, Device: 7, Seq: 3}.Append(nil)
	js := fmt.Appendf(nil, `{"v":1.5,"m2m":"%s"}`, tok)
	var m map[string]any
	if err := cbor.Unmarshal(toCBOR(js), &m); err != nil || m["m2m"] != string(tok) || m["v"] != 1.5 {
		t.Errorf("toCBOR(%s) decodes to %v, %v", js, m, err)
	}
	var b []byte
	if err := cbor.Unmarshal(toCBOR([]byte("not json "+string(tok))), &b); err != nil || !bytes.Contains(b, tok) {
		t.Errorf("toCBOR(text) = %q, %v; want a byte string holding the token", b, err)
	}
}

func TestParseWebProblems(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	for _, c := range []struct {
		name, doc string
		want      []string
	}{
		{"target without a group", head + "target: {http: 'http://h'}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n",
			[]string{"target.http: no group speaks http"}},
		{"bad targets", head + "target: {http: 'ws://h', websocket: 'http://h'}\ngroups:\n  - {count: 1, protocol: http, telemetry: {every: 1s}}\n  - {count: 1, protocol: websocket, telemetry: {every: 1s}}\n",
			[]string{"target.http: must be embedded, http://host:port or https://host:port", "target.websocket: must be embedded, ws://host:port or wss://host:port"}},
		{"commands without the endpoint", head + "target: {http: 'http://h'}\ngroups:\n  - {count: 1, protocol: http, commands: {every: 1s}}\n",
			[]string{"groups[0].commands: need m2msim's endpoint"}},
		{"paths and methods", head + "groups:\n  - {count: 1, protocol: http, telemetry: {every: 1s, path: 'x', method: GET}, requests: {every: 1s, method: POST, path: '/commands/{{id}}'}, commands: {every: 1s, path: '/c/{{id}}'}}\n",
			[]string{"groups[0].telemetry.path: must start with /", "groups[0].telemetry.method: must be POST or PUT",
				"groups[0].requests.method: must be GET", "groups[0].requests.path: must not be under /commands/",
				"groups[0].commands.path: must be /commands/ and one segment"}},
		{"client settings", head + "groups:\n  - {count: 1, protocol: http, http: {content_type: xml, timeout: 0s, retries: 99, poll: 1s, long_poll: 1s}, commands: {every: 1s}}\n",
			[]string{"groups[0].http.content_type: must be json or cbor", "groups[0].http.timeout: must be > 0",
				"groups[0].http.retries: must be 0 to 20", "groups[0].http.long_poll: give poll"}},
		{"MQTT keys", head + "groups:\n  - {count: 1, protocol: http, telemetry: {every: 1s, topic: a, qos: 1}}\n",
			[]string{"groups[0].telemetry.topic: is MQTT's or CoAP's", "groups[0].telemetry.qos: is MQTT's or CoAP's"}},
		{"websocket", head + "groups:\n  - {count: 1, protocol: websocket, websocket: {path: '/ws/all', frames: json}, telemetry: {every: 1s, path: /t}}\n",
			[]string{"groups[0].websocket.path: must use {{id}}", "groups[0].websocket.frames: must be text or binary",
				"groups[0].telemetry.path: does not apply"}},
		{"keys of other protocols", head + "groups:\n  - {count: 1, http: {}, websocket: {}, telemetry: {every: 1s}}\n",
			[]string{"groups[0].http: applies to protocol: http groups only", "groups[0].websocket: applies to protocol: websocket groups only"}},
		{"endpoint settings", head + "backend: {listen: nope, faults: {every: 0, status: 200, retry_after: -1s}}\ngroups:\n  - {count: 1, protocol: http, telemetry: {every: 1s}}\n",
			[]string{"backend.listen: must be host:port", "backend.faults.every: must be 1", "backend.faults.status: must be an error status",
				"backend.faults.retry_after: must be >= 0"}},
		{"tls without a secure target", head + "groups:\n  - {count: 1, protocol: http, tls: {insecure: true}, telemetry: {every: 1s}}\n  - {count: 1, protocol: websocket, tls: {insecure: true}, telemetry: {every: 1s}}\n  - {count: 1, protocol: coap, tls: {insecure: true}, telemetry: {every: 1s}}\n",
			[]string{"groups[0].tls: needs target.http: https://host:port", "groups[1].tls: needs target.websocket: wss://host:port",
				"groups[2].tls: tls is for mqtt, http and websocket groups"}},
		{"endpoint settings without a web group", head + "backend: {listen: '127.0.0.1:1', faults: {every: 2}}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n",
			[]string{"backend.listen: is where m2msim's HTTP endpoint listens", "backend.faults: are injected by m2msim's HTTP endpoint"}},
	} {
		wantProblems(t, c.name, c.doc, c.want)
	}
}

func TestWebGroupDefaults(t *testing.T) {
	s, err := Parse("d.yaml", []byte("version: 1\nname: t\nduration: 1s\ngroups:\n  - {count: 1, protocol: http, telemetry: {every: 1s}, requests: {every: 1s}, commands: {every: 1s}}\n  - {count: 1, protocol: websocket, telemetry: {every: 1s}, commands: {every: 1s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.HTTP != "embedded" || s.Target.WebSocket != "embedded" || !s.Endpoint() {
		t.Errorf("targets %q, %q; want both embedded, with the endpoint", s.Target.HTTP, s.Target.WebSocket)
	}
	h := s.Groups[0].HTTP
	if !*h.KeepAlive || h.ContentType != "json" || h.LongPoll != 30*time.Second || h.Retries != 3 {
		t.Errorf("http defaults = %+v", *h)
	}
	p := s.Plan()
	if g := p.Groups[0]; !g.InlineAnswers || g.Telemetry.Topic.String() != "/telemetry/{{id}}" || g.Commands.Topic.String() != "/commands/{{id}}" ||
		g.Commands.ReplyTopic.String() != "/replies/{{id}}" || g.Requests.Topic.String() != "/requests/{{id}}" || g.Telemetry.QoS != 1 {
		t.Errorf("http plan: inline %v, telemetry %q QoS %d, commands %q reply %q, requests %q", g.InlineAnswers, g.Telemetry.Topic,
			g.Telemetry.QoS, g.Commands.Topic, g.Commands.ReplyTopic, g.Requests.Topic)
	}
	if g := p.Groups[1]; g.InlineAnswers || g.Telemetry.Topic.String() != "/ws/{{id}}" || g.Telemetry.QoS != 0 || g.Commands.ReplyTopic.String() != "/ws/{{id}}" {
		t.Errorf("websocket plan: inline %v, telemetry %q QoS %d, replies %q", g.InlineAnswers, g.Telemetry.Topic, g.Telemetry.QoS, g.Commands.ReplyTopic)
	}
}

// A group whose target is another server, without backend.listen, is
// untimed even when another group's target starts the endpoint.
func TestWebGroupUntimedWithoutTheEndpoint(t *testing.T) {
	s, err := Parse("u.yaml", []byte("version: 1\nname: t\nduration: 1s\ntarget: {http: 'http://127.0.0.1:9'}\ngroups:\n  - {count: 1, protocol: http, telemetry: {every: 1s}}\n  - {count: 1, protocol: websocket, telemetry: {every: 1s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Plan(); !p.Groups[0].Untimed || p.Groups[1].Untimed {
		t.Errorf("untimed: http %v, websocket %v; want true, false", p.Groups[0].Untimed, p.Groups[1].Untimed)
	}
}
