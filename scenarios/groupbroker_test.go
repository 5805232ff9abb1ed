package scenarios

import (
	"fmt"
	"testing"

	"github.com/m2msim/m2msim/sim"
)

func TestParseGroupBrokerProblems(t *testing.T) {
	doc := func(target, group string) string {
		return "version: 1\nname: t\nduration: 1s\ntarget: {" + target + "}\ngroups:\n  - {count: 1, telemetry: {every: 1s}, " + group + "}\n"
	}
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"embedded+ws beside a broker of one's own", doc("broker: tcp://h", "mqtt: {broker: embedded+ws}"), []string{"groups[0].mqtt.broker: embedded+ws is a listener of m2msim's own broker"}},
		{"another broker beside the embedded one", doc("broker: embedded", "mqtt: {broker: 'ws://h/mqtt'}"), []string{"groups[0].mqtt.broker: ws://h:80/mqtt is another broker than target.broker (embedded)"}},
		{"tls over the plain listener", doc("broker: embedded, tls: {}", "mqtt: {broker: embedded+ws}, tls: {}"), []string{"groups[0].mqtt.broker: the embedded broker's WebSocket listener speaks plain ws://"}},
		{"TLS on one side only", doc("broker: tcp://h", "mqtt: {broker: 'wss://h/mqtt'}"), []string{"groups[0].mqtt.broker: wss://h:443/mqtt and target.broker tcp://h:1883 must both speak TLS"}},
		{"not a broker URL", doc("broker: tcp://h", "mqtt: {broker: 'http://h'}"), []string{"groups[0].mqtt.broker: must be embedded, embedded+ws"}},
		{"not mqtt", doc("broker: embedded", "protocol: coap, mqtt: {broker: embedded+ws}"), []string{"groups[0].mqtt: applies to protocol: mqtt groups only"}},
	}
	for _, c := range cases {
		wantProblems(t, c.name, c.doc, c.want)
	}
	s, err := Parse("t.yaml", []byte(doc("broker: 'mqtts://h'", "mqtt: {broker: 'wss://h:8443'}")))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.groupBroker(0); got != "wss://h:8443/mqtt" || !s.mqttOverWS() {
		t.Errorf("group broker %q (over WebSocket %v), want the normalised wss://h:8443/mqtt", got, s.mqttOverWS())
	}
}

// One run, one embedded broker: a fleet on MQTT 5 over TLS and another on
// MQTT over WebSocket beside it (mqtt.broker: embedded+ws), both timed end
// to end and answering commands through the one backend. Only the TLS
// fleet makes TLS handshakes, so the WebSocket fleet reached the broker's
// plain WebSocket listener, not its TLS one.
func TestRunMQTTOverTLSAndWebSocketInOneRun(t *testing.T) {
	const n = 100
	s, err := Parse("t.yaml", []byte(fmt.Sprintf(`version: 1
name: two-listeners
duration: 4s
drain: 5s
target:
  broker: embedded
  tls: {client_certificates: true}
groups:
  - name: tls
    count: %d
    mqtt: {protocol_version: 5, session_expiry: 1h}
    connect: {rate: 1000/s}
    telemetry: {every: 1s, qos: 1}
    commands: {every: 2s, qos: 1}
  - name: ws
    count: %d
    mqtt: {broker: embedded+ws}
    radio: ltem
    connect: {rate: 1000/s}
    telemetry: {every: 1s, qos: 1}
    commands: {every: 2s, qos: 1}
`, n, n)))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 5, rec)
	checkFlows(t, rec, 2*n)
	for g := range 2 {
		if got := rec.groups[[2]int{g, int(sim.Delivered)}]; got < 2*n {
			t.Errorf("group %d: %d delivered, want >= %d", g, got, 2*n)
		}
	}
	if hs := rec.named["tls_full_handshake"] + rec.named["tls_resumed"]; hs != n {
		t.Errorf("%d TLS handshakes, want %d: one per device of the TLS fleet only", hs, n)
	}
}
