package scenarios

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// wantProblems parses doc as t.yaml and checks that it is refused with
// problems containing each of want, placed by file and line.
func wantProblems(t *testing.T, name, doc string, want []string) {
	t.Helper()
	_, err := Parse("t.yaml", []byte(doc))
	if err == nil {
		t.Errorf("%s: Parse = nil, want problems %q", name, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: Parse problems\n%v\nwant one containing %q", name, err, w)
		}
	}
	if !strings.Contains(err.Error(), "t.yaml:") {
		t.Errorf("%s: problems %v name no file and line", name, err)
	}
}

func TestParseCoAPProblems(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"a CoAP target and no CoAP group", head + "target: {coap: 'coap://h'}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n",
			[]string{"target.coap: no group speaks CoAP"}},
		{"bad CoAP target", head + "target: {coap: 'tcp://h:1'}\ngroups:\n  - {count: 1, protocol: coap, telemetry: {every: 1s}}\n",
			[]string{"target.coap: must be embedded, coap://host:port or coaps://host:port"}},
		{"MQTT keys in a CoAP group", head + "target: {coap: 'coap://h'}\ngroups:\n  - {count: 1, protocol: coap, telemetry: {every: 1s, topic: a, qos: 1}}\n",
			[]string{"groups[0].telemetry.topic: is MQTT's", "groups[0].telemetry.qos: is MQTT's"}},
		{"CoAP keys in an MQTT group", head + "groups:\n  - {count: 1, telemetry: {every: 1s, path: /a, method: PUT}}\n",
			[]string{"groups[0].telemetry.path: is CoAP's", "groups[0].telemetry.method: is CoAP's"}},
		{"commands from another server", head + "target: {coap: 'coap://h'}\ngroups:\n  - {count: 1, protocol: coap, commands: {every: 1s}}\n",
			[]string{"groups[0].commands: take target.coap: embedded"}},
		{"command paths", head + "groups:\n  - {count: 1, protocol: coap, commands: {every: 1s, path: /c, reply_path: 'r/{{index}}', qos: 1}}\n",
			[]string{"groups[0].commands.path: must use {{id}}, {{index}} or {{device}}", "groups[0].commands.reply_path: must start with /",
				"groups[0].commands.qos: is MQTT's"}},
		{"a request's reply path", head + "groups:\n  - {count: 1, protocol: coap, requests: {every: 1s, path: /t, reply_path: /r}}\n",
			[]string{"groups[0].requests.reply_path: is for commands"}},
		{"request path and method", head + "target: {coap: 'coap://h'}\ngroups:\n  - {count: 1, protocol: coap, requests: {every: 1s, method: DELETE}}\n",
			[]string{"groups[0].requests.path: required", "groups[0].requests.method: must be one of GET, POST, PUT, FETCH"}},
		{"relative path", head + "target: {coap: 'coap://h'}\ngroups:\n  - {count: 1, protocol: coap, telemetry: {every: 1s, path: 'a/{{index}}'}}\n",
			[]string{"groups[0].telemetry.path: must start with /"}},
		{"message layer", head + "target: {coap: 'coap://h'}\ngroups:\n  - {count: 1, protocol: coap, coap: {ack_timeout: 0s, nstart: 0, max_retransmit: 99, queue: 0}, telemetry: {every: 1s}}\n",
			[]string{"coap.ack_timeout: must be > 0", "coap.nstart: must be 1 to 64", "coap.max_retransmit: must be 0 to 20", "coap.queue: must be 1 to 4096"}},
		{"NAT timeout on an MQTT group", head + "groups:\n  - {count: 1, link: {nat_timeout: 30s}, telemetry: {every: 1s}}\n",
			[]string{"groups[0].link.nat_timeout: applies to CoAP groups (UDP) only"}},
		{"unknown protocol", head + "groups:\n  - {count: 1, protocol: amqp, telemetry: {every: 1s}}\n",
			[]string{"groups[0].protocol: must be mqtt, coap, lwm2m, http or websocket"}},
		{"coap block in an MQTT group", head + "groups:\n  - {count: 1, coap: {nstart: 1}, telemetry: {every: 1s}}\n",
			[]string{"groups[0].coap: applies to protocol: coap groups only"}},
	}
	for _, c := range cases {
		wantProblems(t, c.name, c.doc, c.want)
	}
}

func TestCoAPGroupDefaults(t *testing.T) {
	s, err := Parse("t.yaml", []byte(`version: 1
name: t
duration: 1s
target: {coap: "coap://127.0.0.1"}
groups:
  - {name: s, count: 2, protocol: coap, telemetry: {every: 1s}, requests: {every: 5s, path: /time, confirmable: false}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.CoAP != "coap://127.0.0.1:5683" {
		t.Errorf("target.coap = %q, want the default port added", s.Target.CoAP)
	}
	e, err := Parse("e.yaml", []byte("version: 1\nname: e\nduration: 1s\ngroups:\n  - {count: 1, protocol: coap, telemetry: {every: 1s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !e.Target.CoAPEmbedded() || e.Plan().Groups[0].Untimed {
		t.Errorf("without target.coap: target %q, untimed %v; want the embedded server, which times end to end",
			e.Target.CoAP, e.Plan().Groups[0].Untimed)
	}
	g := s.Plan().Groups[0]
	if g.Protocol != ProtocolCoAP || !g.InlineAnswers || !g.Untimed {
		t.Errorf("plan group = protocol %q, inline %v, untimed %v; want coap, true, true", g.Protocol, g.InlineAnswers, g.Untimed)
	}
	if got := g.Telemetry.Topic.String(); got != defaultCoAPPath || g.Telemetry.QoS != 1 {
		t.Errorf("telemetry goes to %q at QoS %d, want %q confirmable (1)", got, g.Telemetry.QoS, defaultCoAPPath)
	}
	if g.Requests.Topic.String() != "/time" || g.Requests.ReplyTopic != nil || g.Requests.QoS != 0 {
		t.Errorf("requests = %q reply %v QoS %d, want /time, no reply topic, non-confirmable (0)",
			g.Requests.Topic, g.Requests.ReplyTopic, g.Requests.QoS)
	}
	if c := s.Groups[0].CoAP; c.AckTimeout != 2*time.Second || c.AckRandomFactor != 1.5 || c.MaxRetransmit != 4 || c.NStart != 1 {
		t.Errorf("coap defaults = %+v, want RFC 7252's 2s, 1.5, 4, 1", *c)
	}
}

// newTally returns an empty eventTally.
func newTally() *eventTally {
	e := new(eventTally)
	e.reset()
	return e
}

// reset empties the tally.
func (e *eventTally) reset() {
	e.kinds, e.groups, e.named, e.errs = map[sim.EventKind]int{}, map[[2]int]int{}, map[string]int{}, map[string]int{}
}

// runOpened opens s's targets and runs it through the engine with seed,
// recording into rec, then settles the link engine's figures (the
// kernel's, under the wire); the run is bounded whatever the servers do.
func runOpened(t *testing.T, s *Scenario, seed uint64, rec sim.Recorder) {
	t.Helper()
	rt, err := Open(t.Context(), s, seed, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rt.Close()
	e, err := sim.New(s.Plan(), sim.Options{Connector: rt.Connector, Receiver: rt.Receiver, Sender: rt.Sender, Recorder: rec, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := e.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	rt.Settle()
}

// eventTally counts events by kind, and Counted events by metric.
type eventTally struct {
	mu     sync.Mutex
	kinds  map[sim.EventKind]int
	groups map[[2]int]int // {group, kind}
	named  map[string]int
	errs   map[string]int // Err of failures, by kind
}

func (e *eventTally) Record(ev sim.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kinds[ev.Kind]++
	e.groups[[2]int{ev.Group, int(ev.Kind)}]++
	if ev.Kind == sim.Counted {
		e.named[ev.Metric]++
	}
	if ev.Err != "" && e.errs != nil {
		e.errs[ev.Kind.String()+":"+ev.Err]++
	}
}

// One scenario drives an MQTT group against Mosquitto and a CoAP group
// against libcoap's server side by side: each group's flows finish by
// their own protocol's rules, and CoAP's responses are counted by code.
func TestRunMixedMQTTAndCoAPAgainstRealServers(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	c := coaptest.StartServer(t, "notls", "-d", "100")
	s, err := Parse("mixed.yaml", fmt.Appendf(nil, `version: 1
name: mixed
seed: 9
duration: 3s
drain: 5s
target: {broker: "tcp://%s", coap: "coap://%s"}
groups:
  - {name: meters, count: 20, telemetry: {every: 500ms, qos: 1}}
  - name: sensors
    protocol: coap
    count: 20
    telemetry: {every: 500ms, path: "/s/{{index}}", method: PUT}
    requests: {every: 1s, path: /time}
`, m.Addr(), c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 9, rec)
	at := func(g int, k sim.EventKind) int { return rec.groups[[2]int{g, int(k)}] }
	if sent, acked, got := at(0, sim.Published), at(0, sim.Acked), at(0, sim.Delivered); sent < 80 || acked != sent || got != sent {
		t.Errorf("MQTT group: published %d, acked %d, delivered %d: want >= 80, all acked and delivered", sent, acked, got)
	}
	sent, acked := at(1, sim.Published), at(1, sim.Acked)
	reqs, answered := at(1, sim.RequestSent), at(1, sim.RequestAnswered)
	if sent < 80 || acked != sent || reqs < 40 || answered != reqs || at(1, sim.Delivered) != 0 {
		t.Errorf("CoAP group: sent %d, acked %d, requests %d, answered %d, delivered %d: want >= 80 all acked, >= 40 all answered, none delivered",
			sent, acked, reqs, answered, at(1, sim.Delivered))
	}
	// PUT creates each resource once (2.01), then changes it (2.04); GET
	// /time reads (2.05).
	if rec.named["coap_2_01"] != 20 || rec.named["coap_2_01"]+rec.named["coap_2_04"] != acked || rec.named["coap_2_05"] != answered {
		t.Errorf("response codes %v: want 20 x 2.01, the other PUTs 2.04 (%d in all), %d x 2.05", rec.named, acked, answered)
	}
	if n := rec.kinds[sim.PublishFailed] + rec.kinds[sim.Unacked] + rec.kinds[sim.ConnectFailed]; n != 0 {
		t.Errorf("%d failures, want none; server log:\n%s", n, c.Log())
	}
}

// A NAT that forgets an idle device's binding moves its next request to
// a new source port; plain CoAP carries on (the server answers whatever
// port asks), and each rebinding is counted.
func TestRunCoAPThroughAForgetfulNAT(t *testing.T) {
	c := coaptest.StartServer(t, "notls", "-d", "100")
	s, err := Parse("nat.yaml", fmt.Appendf(nil, `version: 1
name: nat
seed: 4
duration: 3500ms
target: {coap: "coap://%s"}
groups:
  - name: sensors
    protocol: coap
    count: 10
    link: {nat_timeout: 400ms}
    telemetry: {every: 1s, path: "/n/{{index}}"}
`, c.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 4, rec)
	sent, acked := rec.kinds[sim.Published], rec.kinds[sim.Acked]
	// Every report after the first of each device follows a second of
	// silence, so each rebinds; a first report rebinds when its random
	// phase put it 400 ms or more after the socket opened.
	if n := rec.named["nat_rebind"]; sent < 25 || acked != sent || n < sent-10 || n > sent {
		t.Errorf("sent %d, acked %d, rebindings %d: want >= 25, all acked, one per report after each device's first (%d to %d)",
			sent, acked, n, sent-10, sent)
	}
}

// Against the embedded CoAP server, which plays the backend, a CoAP fleet
// is timed end to end and takes commands as notifications of the
// resource each device observes; its replies come back as POSTs.
func TestRunCoAPAgainstTheEmbeddedServer(t *testing.T) {
	s, err := Parse("embedded.yaml", []byte(`version: 1
name: embedded
seed: 5
duration: 4s
drain: 5s
groups:
  - name: sensors
    protocol: coap
    count: 30
    telemetry: {every: 500ms}
    commands: {every: 1s}
    requests: {every: 2s, path: "/m2msim/sensors/{{index}}/cmd"}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 5, rec)
	k := rec.kinds
	if k[sim.Published] < 200 || k[sim.Acked] != k[sim.Published] || k[sim.Delivered] != k[sim.Published] {
		t.Errorf("telemetry: published %d, acked %d, delivered %d: want >= 200, all acked and delivered",
			k[sim.Published], k[sim.Acked], k[sim.Delivered])
	}
	if k[sim.CommandSent] < 90 || k[sim.CommandReplied] != k[sim.CommandSent] {
		t.Errorf("commands: sent %d, replied %d: want >= 90, all replied", k[sim.CommandSent], k[sim.CommandReplied])
	}
	if k[sim.RequestSent] < 45 || k[sim.RequestAnswered] != k[sim.RequestSent] {
		t.Errorf("requests: sent %d, answered %d: want >= 45, all answered", k[sim.RequestSent], k[sim.RequestAnswered])
	}
	if n := k[sim.PublishFailed] + k[sim.Unacked] + k[sim.ConnectFailed]; n != 0 {
		t.Errorf("%d failures, want none", n)
	}
}

// A report larger than one CoAP message goes block-wise (Block1), to the
// embedded server and to libcoap's, and arrives whole.
func TestRunCoAPBlockwiseReports(t *testing.T) {
	lib := coaptest.StartServer(t, "notls", "-d", "100")
	for _, target := range []string{"embedded", "coap://" + lib.Addr()} {
		t.Run(strings.SplitN(target, ":", 2)[0], func(t *testing.T) {
			s, err := Parse("block.yaml", fmt.Appendf(nil, `version: 1
name: block
seed: 8
duration: 3s
target: {coap: "%s"}
groups:
  - name: cameras
    protocol: coap
    count: 5
    telemetry: {every: 1s, path: "/img/{{index}}", method: PUT, size: 5000B}
`, target))
			if err != nil {
				t.Fatal(err)
			}
			rec := newTally()
			runOpened(t, s, 8, rec)
			k := rec.kinds
			if k[sim.Published] < 10 || k[sim.Acked] != k[sim.Published] || rec.named["coap_block_uploads"] != k[sim.Published] {
				t.Errorf("published %d, acked %d, block-wise uploads %d: want >= 10, all acked, all block-wise (errors %v)",
					k[sim.Published], k[sim.Acked], rec.named["coap_block_uploads"], rec.errs)
			}
			if target == "embedded" && k[sim.Delivered] != k[sim.Published] {
				t.Errorf("delivered %d of %d: the server must hand over each whole body, token and all", k[sim.Delivered], k[sim.Published])
			}
		})
	}
}

// A CoAP retransmission is a frame on the device's radio like any other:
// on a duty-cycled radio it is charged its airtime and closes the band,
// and one sent while the band was closed counts as an overrun.
func TestRunCoAPRetransmissionsTakeAirtime(t *testing.T) {
	s, err := Parse("air.yaml", []byte(`version: 1
name: air
seed: 6
duration: 12s
drain: 8s
groups:
  - name: lora
    protocol: coap
    count: 20
    radio: lorawan-sf7
    link: {up: "delay 100ms loss 40%"}
    coap: {ack_timeout: 1s, max_retransmit: 2}
    telemetry: {every: 10s, size: 20B}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 6, rec)
	sent, air, re, over := rec.kinds[sim.Published], rec.kinds[sim.OnAir], rec.named["coap_retransmit"], rec.named["radio_overrun"]
	t.Logf("sent %d, on air %d, retransmissions %d, overruns %d", sent, air, re, over)
	if sent < 15 || re < 5 || air != sent+re {
		t.Errorf("sent %d, retransmitted %d, frames on air %d: want >= 15, >= 5, every frame and retransmission on air", sent, re, air)
	}
	// A retransmission 1-1.5 s after its frame finds the band closed for
	// 100 times SF7's 72 ms.
	if over != re {
		t.Errorf("%d overruns for %d retransmissions: want each sent into the closed band", over, re)
	}
}
