package scenarios

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
	lwm2mserver "github.com/m2msim/m2msim/transports/lwm2m/server"
)

func TestParseLwM2MProblems(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1m\n"
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"an LwM2M target and no LwM2M group", head + "target: {lwm2m: 'coap://h'}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n",
			[]string{"target.lwm2m: no group speaks LwM2M"}},
		{"bad LwM2M target", head + "target: {lwm2m: 'udp://h:1'}\ngroups:\n  - {count: 1, protocol: lwm2m, telemetry: {every: 1s}}\n",
			[]string{"target.lwm2m: must be embedded, coap://host:port or coaps://host:port"}},
		{"an lwm2m block in an MQTT group", head + "groups:\n  - {count: 1, lwm2m: {queue: true}, telemetry: {every: 1s}}\n",
			[]string{"groups[0].lwm2m: applies to protocol: lwm2m groups only"}},
		{"registration", head + "groups:\n  - {count: 1, protocol: lwm2m, lwm2m: {lifetime: 1500ms, format: tlv}, telemetry: {every: 1s}}\n",
			[]string{"groups[0].lwm2m.lifetime: must be whole seconds", "groups[0].lwm2m.format: must be senml-cbor or senml-json"}},
		{"queue mode awake", head + "groups:\n  - {count: 1, protocol: lwm2m, lwm2m: {lifetime: 60s, queue: true, awake: 2m}, telemetry: {every: 1s}}\n",
			[]string{"groups[0].lwm2m.awake: must be > 0 and below the lifetime"}},
		{"foreign keys", head + "groups:\n  - {count: 1, protocol: lwm2m, coap: {nstart: 0}, telemetry: {every: 1s, topic: a, method: PUT}, commands: {every: 5s, reply_path: /r}}\n",
			[]string{"groups[0].coap.nstart: must be 1 to 64", "groups[0].telemetry.topic: is not LwM2M's",
				"groups[0].telemetry.method: is not LwM2M's", "groups[0].commands.reply_path: is not LwM2M's"}},
		{"requests and per-report", head + "groups:\n  - {count: 1, protocol: lwm2m, connect: {mode: per-report}, requests: {every: 1s}}\n",
			[]string{"groups[0].requests: LwM2M has no request", "groups[0].connect.mode: must be persistent"}},
		{"PSM and queue mode", head + "groups:\n" +
			"  - {count: 1, protocol: lwm2m, lwm2m: {awake: 5s}, sleep: {psm: {active: 10s}}}\n" +
			"  - {count: 1, protocol: lwm2m, lwm2m: {queue: false}, sleep: {psm: {active: 10s}}}\n" +
			"  - {count: 1, protocol: lwm2m, sleep: {psm: {active: 0s}}}\n" +
			"  - {count: 1, protocol: lwm2m, lwm2m: {lifetime: 60s}, sleep: {inactivity: 20s, psm: {active: 40s}}}\n",
			[]string{"groups[0].lwm2m.awake: is set by sleep", "groups[1].lwm2m.queue: must be true with sleep.psm",
				"groups[2].sleep.psm.active: an LwM2M device in PSM must stay reachable",
				"groups[3].lwm2m.lifetime: must be longer than sleep.inactivity + sleep.psm.active (1m0s)"}},
		{"resources", head + "groups:\n  - {count: 1, protocol: lwm2m, telemetry: {every: 1s, path: '/3303/{{index}}/5750'}, commands: {every: 5s, path: /3303/0/5700}}\n",
			[]string{"groups[0].telemetry.path: must be a resource path", "groups[0].commands.path: must be a writable string resource"}},
		{"missing resource", head + "groups:\n  - {count: 1, protocol: lwm2m, commands: {every: 5s, path: /3303/7/5750}}\n",
			[]string{"groups[0].commands.path: the simulated device has no resource /3303/7/5750"}},
		{"commands and firmware from another server", head + "target: {lwm2m: 'coap://h'}\ngroups:\n  - {count: 1, protocol: lwm2m, commands: {every: 5s}, lwm2m: {firmware: {at: 1s}}}\n",
			[]string{"groups[0].commands: take target.lwm2m: embedded", "groups[0].lwm2m.firmware: takes target.lwm2m: embedded"}},
		{"firmware campaign", head + "groups:\n  - {count: 1, protocol: lwm2m, lwm2m: {firmware: {at: 50s, spread: 20s, image: 0B, block: 100B, concurrency: 0}}}\n" +
			"  - {count: 1, protocol: lwm2m, lwm2m: {firmware: {at: 1s, image: 1KiB}}}\n",
			[]string{"groups[0].lwm2m.firmware: at + spread (1m10s) must end before the run does",
				"groups[0].lwm2m.firmware.image: must be 1B", "groups[0].lwm2m.firmware.block: must be a power of two",
				"groups[0].lwm2m.firmware.concurrency: must be 1 to 10000", "groups[1].lwm2m.firmware.image: must match the other groups'"}},
	}
	for _, c := range cases {
		wantProblems(t, c.name, c.doc, c.want)
	}
}

func TestLwM2MGroupDefaults(t *testing.T) {
	s, err := Parse("t.yaml", []byte(`version: 1
name: t
duration: 1s
target: {lwm2m: "coap://127.0.0.1"}
groups:
  - {name: m, count: 2, protocol: lwm2m, telemetry: {every: 1s}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.LwM2M != "coap://127.0.0.1:5683" || s.Target.LwM2MAddr() != "127.0.0.1:5683" {
		t.Errorf("target.lwm2m = %q, want the default port added", s.Target.LwM2M)
	}
	if l := s.Groups[0].LwM2M; l.Lifetime != 300*time.Second || l.Queue || l.Format != "senml-cbor" {
		t.Errorf("lwm2m defaults = %+v, want 300s, not queued, senml-cbor", *l)
	}
	g := s.Plan().Groups[0]
	if !g.Untimed || g.Telemetry.Topic.String() != defaultLwM2MResource || g.Telemetry.QoS != 1 {
		t.Errorf("plan: untimed %v, telemetry to %q QoS %d; want untimed (another server), %s, 1",
			g.Untimed, g.Telemetry.Topic, g.Telemetry.QoS, defaultLwM2MResource)
	}
	e, err := Parse("e.yaml", []byte("version: 1\nname: e\nduration: 1m\ngroups:\n  - {count: 1, protocol: lwm2m, commands: {every: 5s}, lwm2m: {firmware: {at: 1s}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g = e.Plan().Groups[0]
	f := e.Groups[0].LwM2M.Firmware
	if !e.Target.LwM2MEmbedded() || g.Untimed || g.Commands.ReplyTopic == nil || f.Image != 64*KiB || f.Block != 512 || f.Concurrency != 100 {
		t.Errorf("embedded by default %v, untimed %v, reply topic %v, firmware %+v", e.Target.LwM2MEmbedded(), g.Untimed,
			g.Commands.ReplyTopic, *f)
	}
}

// measures collects the Measured events by metric.
type measures struct {
	eventTally
	mu2 sync.Mutex
	by  map[string][]time.Duration
}

func (m *measures) Record(ev sim.Event) {
	m.eventTally.Record(ev)
	key := ev.Metric
	switch ev.Kind {
	case sim.Measured:
	case sim.CommandReplied:
		key = fmt.Sprintf("command/%d", ev.Group)
	default:
		return
	}
	m.mu2.Lock()
	m.by[key] = append(m.by[key], ev.Latency)
	m.mu2.Unlock()
}

// Against the embedded LwM2M server, which plays the backend, an LwM2M
// fleet registers, is timed end to end through its Sends, takes
// commands as Writes, and updates its firmware in a campaign; a second,
// queue-mode group sleeps between its reports and gets its commands when
// it wakes.
func TestRunLwM2MAgainstTheEmbeddedServer(t *testing.T) {
	s, err := Parse("embedded.yaml", []byte(`version: 1
name: embedded
seed: 5
duration: 5s
drain: 5s
groups:
  - name: meters
    protocol: lwm2m
    count: 20
    client_id: "urn:dev:meter-{{index}}"
    lwm2m: {lifetime: 60s, format: senml-json, firmware: {at: 500ms, spread: 1s, image: 8KiB, block: 256B, concurrency: 5}}
    telemetry: {every: 500ms}
    commands: {every: 1s}
  - name: sleepers
    protocol: lwm2m
    count: 10
    lwm2m: {lifetime: 60s, queue: true, awake: 300ms}
    telemetry: {every: 1s}
    commands: {every: 2s, path: /3/0/15}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := &measures{by: map[string][]time.Duration{}}
	rec.reset()
	runOpened(t, s, 5, rec)
	at := func(g int, k sim.EventKind) int { return rec.groups[[2]int{g, int(k)}] }
	t.Logf("events %v, counts %v, errors %v", rec.kinds, rec.named, rec.errs)
	if c := at(0, sim.Connected) + at(1, sim.Connected); c != 30 || len(rec.by["lwm2m_register"]) < 30 {
		t.Errorf("connected %d, registrations measured %d: want 30, >= 30", c, len(rec.by["lwm2m_register"]))
	}
	if sent, acked, got := at(0, sim.Published), at(0, sim.Acked), at(0, sim.Delivered); sent < 150 || acked != sent || got != sent {
		t.Errorf("meters' telemetry: sent %d, acked %d, delivered %d: want >= 150, all acked and delivered", sent, acked, got)
	}
	if sent, replied := at(0, sim.CommandSent), at(0, sim.CommandReplied); sent < 70 || replied != sent {
		t.Errorf("meters' commands: sent %d, replied %d: want >= 70, all replied", sent, replied)
	}
	if n := rec.named["lwm2m_fw_updated"]; n != 20 || len(rec.by["lwm2m_fw_download"]) != 20 || rec.named["lwm2m_fw_failed"] != 0 {
		t.Errorf("firmware: %d updated, %d downloads timed, %d failed; want all 20, 20, none",
			n, len(rec.by["lwm2m_fw_download"]), rec.named["lwm2m_fw_failed"])
	}
	// Each update is timed from the campaign's start (500ms into the
	// run), after its device's draw in the 1s spread and its download.
	if c := rec.by["lwm2m_fw_campaign"]; len(c) != 20 || slices.Min(c) <= 0 || slices.Max(c) > 4500*time.Millisecond ||
		slices.Max(c) < slices.Max(rec.by["lwm2m_fw_download"]) {
		t.Errorf("campaign times %v: want 20, each after its download and within the run", c)
	}
	if sent, got := at(1, sim.Published), at(1, sim.Delivered); sent < 40 || got != sent {
		t.Errorf("sleepers' telemetry: sent %d, delivered %d: want >= 40, all delivered", sent, got)
	}
	if sent, replied := at(1, sim.CommandSent), at(1, sim.CommandReplied); sent < 20 || replied < sent*3/4 {
		t.Errorf("sleepers' commands: sent %d, replied %d: want >= 20, most replied once the devices woke", sent, replied)
	}
	if rec.named["lwm2m_wake"] < 20 || len(rec.by["lwm2m_update"]) < 20 {
		t.Errorf("sleepers woke %d times with %d Updates: want >= 20 of each", rec.named["lwm2m_wake"], len(rec.by["lwm2m_update"]))
	}
	// A meter registers anew after its firmware update, and the server
	// fails the Writes it still held for the old registration: those
	// commands fail, by that reason, and nothing else does.
	dropped := rec.errs["publish_failed:command_lwm2m_deregistered"]
	if n := rec.kinds[sim.PublishFailed] - dropped + rec.kinds[sim.Unacked] + rec.kinds[sim.ConnectFailed] + rec.kinds[sim.Disconnected]; n != 0 || dropped > rec.named["lwm2m_reregister"] {
		t.Errorf("%d failures besides %d commands dropped by re-registrations (of %d): want none: %v, %v",
			n, dropped, rec.named["lwm2m_reregister"], rec.kinds, rec.errs)
	}
}

// Against another LwM2M server (here an embedded one the test starts, as
// it would start Leshan) nothing plays the backend: devices register and
// their Sends are acknowledged, nothing is timed end to end.
func TestRunLwM2MAgainstAnotherServer(t *testing.T) {
	srv, err := lwm2mserver.Start("127.0.0.1:0", nil, lwm2mserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := Parse("other.yaml", fmt.Appendf(nil, `version: 1
name: other
seed: 6
duration: 3s
target: {lwm2m: "coap://%s"}
groups:
  - {name: m, protocol: lwm2m, count: 10, telemetry: {every: 500ms}}
`, srv.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Open(t.Context(), s, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Receiver != nil || rt.Sender != nil || rt.LwM2MAddr != "" {
		t.Errorf("Open: receiver %v, sender %v, embedded server %q: want no backend", rt.Receiver, rt.Sender, rt.LwM2MAddr)
	}
	rec := newTally()
	e, err := sim.New(s.Plan(), sim.Options{Connector: rt.Connector, Recorder: rec, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	k := rec.kinds
	if st := srv.Stats(); k[sim.Connected] != 10 || k[sim.Published] < 40 || k[sim.Acked] != k[sim.Published] ||
		k[sim.Delivered] != 0 || st.Sends != uint64(k[sim.Published]) || st.Deregistrations != 10 {
		t.Errorf("connected %d, sent %d, acked %d, delivered %d; server saw %d Sends, %d De-registers: "+
			"want 10 connected, >= 40 sent, all acked and seen, none delivered, 10 De-registers",
			k[sim.Connected], k[sim.Published], k[sim.Acked], k[sim.Delivered], st.Sends, st.Deregistrations)
	}
}

// A command whose Write fails reaches the engine as failed, by its kind,
// rather than waiting for a reply that cannot come.
func TestLwM2MCommandWriteFailureFailsTheCommand(t *testing.T) {
	s, err := Parse("fail.yaml", []byte("version: 1\nname: fail\nduration: 5s\ngroups:\n"+
		"  - {count: 1, protocol: lwm2m, telemetry: {every: 1s}, commands: {every: 1s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Open(t.Context(), s, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	got := make(chan sim.Delivery, 1)
	rt.lwm2m.subscribe(func(d sim.Delivery) { got <- d })
	cmd := sim.Token{Kind: sim.TokenCommand, Device: 0, Seq: 1, Intended: time.Second}.Append(nil)
	if err := rt.lwm2m.publish(t.Context(), sim.Outbound{Topic: defaultLwM2MResource, Payload: cmd}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		tok, ok := sim.FindToken(d.Payload)
		if k := sim.ErrorKind(d.Err); k != "lwm2m_not_registered" || !ok || tok.Kind != sim.TokenReply || tok.Seq != 1 {
			t.Errorf("delivery: err %v (kind %q), token %+v: want the command's reply token failed as lwm2m_not_registered", d.Err, k, tok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a Write to an unregistered device was never reported")
	}
}

// A device's radio sleep reaches LwM2M: a device in PSM registers in
// queue mode and gets the server's Writes only after its next uplink
// wakes it; one in eDRX gets them in its paging windows. A device that
// always listens answers at once.
func TestRunLwM2MDevicesThatSleep(t *testing.T) {
	s, err := Parse("sleep.yaml", []byte(`version: 1
name: sleep
seed: 3
duration: 8s
drain: 5s
groups:
  - {name: awake, protocol: lwm2m, count: 5, telemetry: {every: 2s}, commands: {every: 1s}}
  - name: psm
    protocol: lwm2m
    count: 10
    lwm2m: {lifetime: 60s}
    sleep: {inactivity: 200ms, psm: {active: 200ms, tau: 1h}}
    telemetry: {every: 2s}
    commands: {every: 1s}
  - name: edrx
    protocol: lwm2m
    count: 10
    sleep: {inactivity: 200ms, edrx: 1500ms, ptw: 100ms}
    telemetry: {every: 3s}
    commands: {every: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if l := s.Groups[1].LwM2M; !l.Queue || l.Awake != 400*time.Millisecond {
		t.Fatalf("psm group: queue %v, awake %v; want queue mode, awake 400ms (inactivity + active)", l.Queue, l.Awake)
	}
	rec := &measures{by: map[string][]time.Duration{}}
	rec.reset()
	runOpened(t, s, 3, rec)
	at := func(g int, k sim.EventKind) int { return rec.groups[[2]int{g, int(k)}] }
	t.Logf("events %v, counts %v, errors %v", rec.kinds, rec.named, rec.errs)
	p50 := func(g int) time.Duration {
		l := slices.Clone(rec.by[fmt.Sprintf("command/%d", g)])
		if len(l) == 0 {
			return 0
		}
		slices.Sort(l)
		return l[len(l)/2]
	}
	for g, name := range []string{"awake", "psm", "edrx"} {
		if sent, replied := at(g, sim.CommandSent), at(g, sim.CommandReplied); sent < 30 || replied < sent*9/10 {
			t.Errorf("%s: %d commands sent, %d replied: want >= 30, nearly all replied", name, sent, replied)
		}
	}
	awake, psm, edrx := p50(0), p50(1), p50(2)
	t.Logf("command p50: awake %v, psm %v, edrx %v", awake, psm, edrx)
	if psm < 200*time.Millisecond || psm < 10*awake {
		t.Errorf("psm command p50 %v (awake group %v): want the Writes held until the devices wake, >= 200ms", psm, awake)
	}
	if edrx < 150*time.Millisecond || edrx < 10*awake {
		t.Errorf("edrx command p50 %v (awake group %v): want the Writes waiting for paging windows, >= 150ms", edrx, awake)
	}
	if rec.named["lwm2m_wake"] < 20 {
		t.Errorf("psm devices woke %d times, want >= 20", rec.named["lwm2m_wake"])
	}
}

// LwM2M over DTLS against the embedded server, which then listens for
// DTLS with the groups' key: devices handshake, register and are timed end
// to end. Behind a NAT that forgets them, a device's next Send goes
// unanswered from its new port (the server knows no session there): the
// device takes the session for lost, handshakes and registers again.
func TestRunLwM2MOverDTLS(t *testing.T) {
	s, err := Parse("dtls.yaml", []byte(`version: 1
name: dtls
seed: 8
duration: 8s
drain: 5s
groups:
  - name: secure
    protocol: lwm2m
    count: 10
    dtls: {identity: "dev-{{index}}", key: lwm2m-secret}
    telemetry: {every: 1s}
    commands: {every: 2s}
  - name: nat
    protocol: lwm2m
    count: 5
    dtls: {identity: "nat-{{index}}", key: lwm2m-secret}
    link: {nat_timeout: 1500ms}
    coap: {ack_timeout: 300ms, max_retransmit: 2}
    reconnect: {backoff: fixed, initial: 200ms}
    telemetry: {every: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := &measures{by: map[string][]time.Duration{}}
	rec.reset()
	runOpened(t, s, 8, rec)
	at := func(g int, k sim.EventKind) int { return rec.groups[[2]int{g, int(k)}] }
	t.Logf("events %v, counts %v, errors %v", rec.kinds, rec.named, rec.errs)
	if sent, got := at(0, sim.Published), at(0, sim.Delivered); sent < 70 || got != sent {
		t.Errorf("secure group: sent %d, delivered %d: want >= 70, all", sent, got)
	}
	if sent, replied := at(0, sim.CommandSent), at(0, sim.CommandReplied); sent < 35 || replied < sent-2 {
		t.Errorf("secure group: %d commands, %d replied: want >= 35, nearly all", sent, replied)
	}
	if n := len(rec.by["dtls_handshake"]); n < 15 {
		t.Errorf("%d handshakes timed, want one per device at least (15)", n)
	}
	lost, rebound := rec.named["dtls_session_lost"], rec.named["nat_rebind"]
	// Each lost session ends the device's connection; each reconnection
	// handshakes (in full, or resumed) and registers again.
	again := rec.kinds[sim.Connected] - 15
	hs := rec.named["dtls_full_handshake"] + rec.named["dtls_resumed"]
	regs := len(rec.by["lwm2m_register"])
	if rebound < 5 || lost < 3 || rec.kinds[sim.Disconnected] != lost || again < 1 || hs != 15+again || regs != 15+again {
		t.Errorf("nat group: %d rebindings, %d sessions lost, %d disconnects, %d reconnections, %d handshakes, %d registrations: "+
			"want >= 5, >= 3, one disconnect per lost session, >= 1, and a handshake and a registration per connection",
			rebound, lost, rec.kinds[sim.Disconnected], again, hs, regs)
	}
}
