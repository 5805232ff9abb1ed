package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

func TestParseMQTT5Problems(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	group := func(mqtt string) string {
		return head + "groups:\n  - {count: 1, telemetry: {every: 1s}, mqtt: " + mqtt + "}\n"
	}
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"unknown version", group("{protocol_version: 3}"),
			[]string{"t.yaml:5:", "groups[0].mqtt.protocol_version: must be 4 (MQTT 3.1.1) or 5 (MQTT 5), got 3"}},
		{"MQTT 5 keys on 3.1.1", group("{session_expiry: 1h, topic_aliases: 4}"),
			[]string{"groups[0].mqtt.session_expiry: is MQTT 5's", "groups[0].mqtt.topic_aliases: is MQTT 5's"}},
		{"limits", group("{protocol_version: 5, receive_maximum: 70000, topic_aliases: -1, message_expiry: -1s}"),
			[]string{"groups[0].mqtt.receive_maximum: must be 0 (none sent) to 65535, got 70000",
				"groups[0].mqtt.topic_aliases: must be 0 (none) to 65535, got -1", "groups[0].mqtt.message_expiry: must be 0 to"}},
		{"user properties", group("{protocol_version: 5, user_properties: [{key: k, value: '{{seq}}'}, {value: v}, {key: x}]}"),
			[]string{"groups[0].mqtt.user_properties[0].value: is rendered once per connection",
				"groups[0].mqtt.user_properties[1].key: required", "groups[0].mqtt.user_properties[2].value: required"}},
		{"unknown key", group("{protocol_version: 5, alias: 3}"),
			[]string{`groups[0].mqtt: unknown key "alias"`}},
		{"persistent session without expiry",
			head + "groups:\n  - {count: 1, connect: {clean_session: false}, telemetry: {every: 1s}, mqtt: {protocol_version: 5}}\n",
			[]string{"groups[0].mqtt.session_expiry: required with connect.clean_session: false"}},
		{"mqtt block on a CoAP group", head + "groups:\n  - {count: 1, protocol: coap, telemetry: {every: 1s}, mqtt: {protocol_version: 5}}\n",
			[]string{"groups[0].mqtt: applies to protocol: mqtt groups only"}},
		{"backend version", head + "backend: {protocol_version: 6}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n",
			[]string{"backend.protocol_version: must be 4 (MQTT 3.1.1) or 5 (MQTT 5), got 6"}},
	}
	for _, c := range cases {
		wantProblems(t, c.name, c.doc, c.want)
	}
}

func TestMQTT5Defaults(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	cases := []struct {
		doc     string
		backend int
		group   int
	}{
		{head + "groups:\n  - {count: 1, telemetry: {every: 1s}}\n", 4, 4},
		{head + "groups:\n  - {count: 1, telemetry: {every: 1s}, mqtt: {}}\n", 4, 4},
		{head + "groups:\n  - {count: 1, telemetry: {every: 1s}, mqtt: {protocol_version: 5}}\n  - {name: b, count: 1}\n", 5, 5},
		{head + "backend: {protocol_version: 4}\ngroups:\n  - {count: 1, telemetry: {every: 1s}, mqtt: {protocol_version: 5}}\n", 4, 5},
	}
	for i, c := range cases {
		s, err := Parse("t.yaml", []byte(c.doc))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if s.BackendVersion() != c.backend || s.Groups[0].mqttVersion() != c.group {
			t.Errorf("case %d: backend version %d, group %d; want %d, %d", i, s.BackendVersion(), s.Groups[0].mqttVersion(), c.backend, c.group)
		}
	}
}

func TestMQTT5OptionsFromGroup(t *testing.T) {
	s, err := Parse("t.yaml", []byte(`version: 1
name: t
duration: 1s
groups:
  - {name: old, count: 2}
  - name: new
    count: 3
    mqtt:
      protocol_version: 5
      session_expiry: 1h
      receive_maximum: 10
      topic_aliases: 4
      message_expiry: 30s
      user_properties: [{key: site, value: "{{group}}-{{index}}"}, {key: site, value: fixed}]
`))
	if err != nil {
		t.Fatal(err)
	}
	var o mqtt.Options
	s.mqttOptions(&o, &sim.ConnectSpec{Device: 1, ClientID: "x"})
	if o.ProtocolVersion != 4 || o.V5.TopicAliases != 0 {
		t.Errorf("device 1 (group old): version %d, %+v; want 3.1.1", o.ProtocolVersion, o.V5)
	}
	s.mqttOptions(&o, &sim.ConnectSpec{Device: 3, ClientID: "x"})
	want := mqtt.V5Options{SessionExpiry: time.Hour, ReceiveMaximum: 10, TopicAliases: 4, MessageExpiry: 30 * time.Second,
		UserProperties: []mqtt.UserProperty{{Key: "site", Value: "new-1"}, {Key: "site", Value: "fixed"}}}
	if o.ProtocolVersion != 5 || fmt.Sprint(o.V5) != fmt.Sprint(want) {
		t.Errorf("device 3 (group new, index 1): version %d, %+v; want 5, %+v", o.ProtocolVersion, o.V5, want)
	}
}

// countingHandler is a sim.Handler that records what the MQTT session
// adapter passes on.
type countingHandler struct {
	mu             sync.Mutex
	acked, failed  []sim.Ref
	counts         map[string]int
	lost, messages int
}

func (h *countingHandler) Acked(r sim.Ref) { h.mu.Lock(); h.acked = append(h.acked, r); h.mu.Unlock() }
func (h *countingHandler) Failed(r sim.Ref, _ error) {
	h.mu.Lock()
	h.failed = append(h.failed, r)
	h.mu.Unlock()
}
func (h *countingHandler) Message(string, []byte)        {}
func (h *countingHandler) Lost(error)                    { h.lost++ }
func (h *countingHandler) Measure(string, time.Duration) {}
func (h *countingHandler) Count(m string)                { h.counts[m]++ }
func (h *countingHandler) Transmitted(int)               {}

func TestMQTTSessionAckReasons(t *testing.T) {
	h := &countingHandler{counts: map[string]int{}}
	m := &mqttSession{h: h}
	p1, p2 := m.pids.add(101), m.pids.add(102)
	m.AckReason(p1, mqtt.ReasonCodeError{Packet: 4, Code: 0x10})
	m.AckReason(p2, mqtt.ReasonCodeError{Packet: 4, Code: 0x97})
	m.Lost(fmt.Errorf("lost: %w", mqtt.ReasonCodeError{Packet: 14, Code: 0x8e}))
	if len(h.acked) != 1 || h.acked[0] != 101 || len(h.failed) != 1 || h.failed[0] != 102 || h.lost != 1 {
		t.Errorf("acked %v, failed %v, lost %d; want [101], [102], 1", h.acked, h.failed, h.lost)
	}
	want := map[string]int{"mqtt_reason_0x10_no_matching_subscribers": 1, "mqtt_reason_0x97_quota_exceeded": 1,
		"mqtt_reason_0x8e_session_taken_over": 1}
	if fmt.Sprint(h.counts) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", h.counts, want)
	}
}

// 200 MQTT 5 devices report and take commands through Mosquitto, with
// topic aliases, a message expiry and templated user properties; the
// backend speaks MQTT 5 too. The drain is long for a loaded machine; a
// run ends as soon as every message is in.
func TestRunMQTT5AgainstMosquitto(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	s, err := Parse("v5.yaml", fmt.Appendf(nil, `version: 1
name: v5
seed: 5
duration: 3s
drain: 15s
target: {broker: "tcp://%s"}
backend: {connections: 2}
groups:
  - name: meters
    count: 200
    connect: {rate: 400/s}
    mqtt:
      protocol_version: 5
      session_expiry: 1m
      receive_maximum: 8
      topic_aliases: 4
      message_expiry: 30s
      user_properties: [{key: device, value: "{{id}}"}]
    telemetry: {every: 1s, qos: 1}
    commands: {every: 1500ms, qos: 1}
`, m.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	if s.BackendVersion() != 5 {
		t.Fatalf("backend version %d, want 5", s.BackendVersion())
	}
	rec := newTally()
	runOpened(t, s, 5, rec)
	sent, acked, got := rec.kinds[sim.Published], rec.kinds[sim.Acked], rec.kinds[sim.Delivered]
	if sent < 400 || acked != sent || got != sent {
		t.Errorf("published %d, acked %d, delivered %d: want >= 400, all acked and delivered", sent, acked, got)
	}
	cmds, replied := rec.kinds[sim.CommandSent], rec.kinds[sim.CommandReplied]
	if cmds < 200 || replied != cmds {
		t.Errorf("commands sent %d, replied %d: want >= 200, all replied", cmds, replied)
	}
	if n := rec.kinds[sim.PublishFailed] + rec.kinds[sim.Unacked] + rec.kinds[sim.ConnectFailed] + rec.kinds[sim.Disconnected]; n != 0 {
		t.Errorf("%d failures (%v), want none; broker log:\n%s", n, rec.errs, m.Log())
	}
	for name := range rec.named {
		if strings.HasPrefix(name, "mqtt_reason_") {
			t.Errorf("counted %s x%d, want no reason codes", name, rec.named[name])
		}
	}
}

// An MQTT 5 backend refused by the broker fails Open with the CONNACK's
// reason code.
func TestOpenMQTT5NotAuthorized(t *testing.T) {
	m := mqtttest.StartMosquitto(t, mqtttest.WithUser("dev", "s3cret"))
	s, err := Parse("v5.yaml", fmt.Appendf(nil, `version: 1
name: v5auth
duration: 1s
target: {broker: "tcp://%s"}
groups:
  - {count: 1, telemetry: {every: 1s}, mqtt: {protocol_version: 5}}
`, m.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Open(t.Context(), s, 1, nil)
	if err == nil {
		rt.Close()
		t.Fatal("Open succeeded against a broker that wants a password")
	}
	var rc mqtt.ReasonCodeError
	if !errors.As(err, &rc) || rc.Code != 0x87 || sim.ErrorKind(err) != "mqtt_reason_0x87_not_authorized" {
		t.Errorf("Open = %v (kind %s), want CONNACK 0x87", err, sim.ErrorKind(err))
	}
}
