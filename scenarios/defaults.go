package scenarios

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// Defaults, as the scenario reference documents them.
const (
	brokerEmbedded     = "embedded"
	defaultPort        = "1883"
	defaultTLSPort     = "8883"
	defaultDrain       = 5 * time.Second
	defaultClientID    = "{{group}}-{{index}}"
	defaultTimeout     = 10 * time.Second
	defaultKeepAlive   = 60 * time.Second
	defaultBackoff     = "exponential"
	defaultInitial     = time.Second
	defaultMax         = 30 * time.Second
	defaultTAU         = 54 * time.Minute // T3412's default (TS 24.008)
	phaseRandom        = "random"
	phaseAligned       = "aligned"
	defaultTelemetry   = "m2msim/{{group}}/{{id}}/up"
	defaultTelemetryPL = `{"id":"{{id}}","seq":{{seq}},"ts":{{ts}},"value":{{rand}},"m2m":"{{track}}"}`
	defaultCommand     = "m2msim/{{group}}/{{id}}/cmd"
	defaultCommandPL   = `{"cmd":"ping","m2m":"{{track}}"}`
	defaultRequest     = "m2msim/{{group}}/{{id}}/req"
	defaultRequestPL   = `{"req":"restock","m2m":"{{track}}"}`
)

var defaultRate = sim.Rate{Freq: 100, Per: time.Second}

// withDefaults fills in what the document left out; has reports whether a
// YAML path was given, so an explicit zero is kept.
func (s *Scenario) withDefaults(has func(path string) bool) {
	s.seedSet = has("seed")
	if !has("drain") {
		s.Drain = defaultDrain
	}
	s.Target.withDefaults(scope(has, "target"))
	s.Backend.withDefaults(scope(has, "backend"))
	for i := range s.Groups {
		s.Groups[i].withDefaults(i, scope(has, fmt.Sprintf("groups[%d]", i)))
	}
	s.coapDefault(has)
	s.lwm2mDefault(has)
	s.tlsDefaults(has)
	s.httpDefault(has)
	for i := range s.Stages {
		if !has(fmt.Sprintf("stages[%d].name", i)) {
			s.Stages[i].Name = fmt.Sprintf("stage-%d", i+1)
		}
	}
	if !has("duration") && len(s.Stages) > 0 {
		s.Duration = s.stagesTotal()
	}
}

// scope narrows has to the keys under prefix.
func scope(has func(string) bool, prefix string) func(string) bool {
	return func(key string) bool { return has(prefix + "." + key) }
}

// stagesTotal sums the stage durations, saturating rather than wrapping
// on absurd values (validation reports those).
func (s *Scenario) stagesTotal() time.Duration {
	var total time.Duration
	for _, st := range s.Stages {
		if st.Duration > 0 && total > 1<<63-1-st.Duration {
			return 1<<63 - 1
		}
		total += max(st.Duration, 0)
	}
	return total
}

func (t *Target) withDefaults(has func(string) bool) {
	if !has("broker") {
		t.Broker = brokerEmbedded
	}
	if b, err := brokerAddress.normalise(t.Broker); err == nil {
		t.Broker = b
	}
	if c, err := coapAddress.normalise(t.CoAP); t.CoAP != "" && err == nil {
		t.CoAP = c
	}
	if t.Restart != nil {
		t.Restart.withDefaults(scope(has, "restart"))
	}
}

// coapDefault makes the embedded CoAP server the target of CoAP groups
// when the scenario names none.
func (s *Scenario) coapDefault(has func(string) bool) {
	if !has("target.coap") && s.Speaks(ProtocolCoAP) {
		s.Target.CoAP = brokerEmbedded
	}
}

func (g *Group) withDefaults(i int, has func(string) bool) {
	if !has("name") {
		g.Name = fmt.Sprintf("group-%d", i+1)
	}
	g.ClientID = orTemplate(g.ClientID, defaultClientID)
	if !has("on_busy") {
		g.OnBusy = OnBusyDefer
	}
	if !has("queue") {
		g.Queue = 16
	}
	if !has("queue_drop") {
		g.QueueDrop = DropNewest
	}
	g.Connect.withDefaults(scope(has, "connect"))
	if g.Sleep != nil && g.Sleep.PSM != nil {
		if !has("sleep.psm.tau") {
			g.Sleep.PSM.TAU = defaultTAU
		}
		if !has("connect.keepalive") {
			// A ping is an uplink: it would wake the device from PSM.
			g.Connect.KeepAlive = 0
		}
	}
	g.Reconnect.withDefaults(scope(has, "reconnect"))
	if !has("protocol") {
		g.Protocol = ProtocolMQTT
	}
	if g.IsCoAP() {
		g.coapDefaults(has)
		return
	}
	if g.IsLwM2M() {
		g.lwm2mDefaults(has)
		return
	}
	if g.speaksWeb() {
		g.httpDefaults(has)
		return
	}
	if g.MQTT != nil {
		g.MQTT.withDefaults(scope(has, "mqtt"))
	}
	if g.Telemetry != nil {
		g.Telemetry.withDefaults(scope(has, "telemetry"))
	}
	if g.Commands != nil {
		g.Commands.withDefaults(defaultCommand, defaultCommandPL)
	}
	if g.Requests != nil {
		g.Requests.withDefaults(defaultRequest, defaultRequestPL)
	}
}

func orTemplate(t *sim.Template, def string) *sim.Template {
	if t != nil {
		return t
	}
	return sim.MustTemplate(def)
}

func (c *Connect) withDefaults(has func(string) bool) {
	if !has("rate") {
		c.Rate = defaultRate
	}
	if !has("timeout") {
		c.Timeout = defaultTimeout
	}
	if !has("keepalive") {
		c.KeepAlive = defaultKeepAlive
	}
	if !has("clean_session") {
		c.CleanSession = true
	}
	if !has("mode") {
		c.Mode = ModePersistent
	}
}

func (r *Reconnect) withDefaults(has func(string) bool) {
	if !has("backoff") {
		r.Backoff = defaultBackoff
	}
	if !has("initial") {
		r.Initial = defaultInitial
	}
	if !has("max") {
		// A long initial delay raises the cap rather than making the
		// defaults contradict it.
		r.Max = max(defaultMax, r.Initial)
	}
}

func (t *Telemetry) withDefaults(has func(string) bool) {
	if !has("phase") {
		t.Phase = phaseRandom
	}
	t.Topic = orTemplate(t.Topic, defaultTelemetry)
	t.Payload = orTemplate(t.Payload, defaultTelemetryPL)
}

// dest is where a telemetry message goes: its CoAP path, or its topic.
func (t *Telemetry) dest() (*sim.Template, byte) {
	if t.Path != nil {
		return t.Path, byte(confirmable(t.Confirmable))
	}
	return t.Topic, byte(t.QoS)
}

// withDefaults fills an exchange's topics from base: base for the topic,
// base + "/reply" for the reply topic.
func (e *Exchange) withDefaults(base, payload string) {
	e.Topic = orTemplate(e.Topic, base)
	e.ReplyTopic = orTemplate(e.ReplyTopic, base+"/reply")
	e.Payload = orTemplate(e.Payload, payload)
}

// address describes what a target key takes: embedded, or a URL of one
// of its schemes with nothing but a host and a port, which defaults per
// scheme.
type address struct {
	ports []string          // scheme, default port, scheme, default port...
	paths map[string]string // scheme -> default path, for schemes whose URLs keep one
	also  []string          // forms besides embedded, such as embedded+ws
	want  string            // the forms, for errors: "embedded or coap://host:port"
	only  string            // why nothing else may follow the port, for errors
}

var (
	brokerAddress = address{ports: []string{"tcp", defaultPort, "mqtt", defaultPort,
		"mqtts", defaultTLSPort, "ssl", defaultTLSPort, "tls", defaultTLSPort, "ws", "80", "wss", "443"},
		paths: wsPaths, also: []string{brokerEmbeddedWS},
		want: "embedded, " + brokerEmbeddedWS + ", tcp://host:port, mqtt://host:port, ws://host:port/path or wss://host:port/path (mqtts://, ssl:// or tls:// over TLS)",
		only: "must be only scheme://host:port, or ws(s)://host:port/path (credentials go in username_env and password_env)"}
	coapAddress = address{ports: []string{"coap", defaultCoAPPort, "coaps", defaultCoAPSPort},
		want: "embedded, coap://host:port or coaps://host:port",
		only: "must be only coap://host:port (each flow gives its own path)"}
	lwm2mAddress = address{ports: []string{"coap", defaultLwM2MPort, "coaps", defaultLwM2MSPort},
		want: "embedded, coap://host:port or coaps://host:port",
		only: "must be only coap://host:port (the device registers at /rd)"}
)

// normalise checks a and gives it its scheme's default port.
func (k address) normalise(a string) (string, error) {
	if a == brokerEmbedded || slices.Contains(k.also, a) {
		return a, nil
	}
	u, err := url.Parse(a)
	port, known := "", false
	for i := 0; err == nil && i+1 < len(k.ports); i += 2 {
		if u.Scheme == k.ports[i] {
			port, known = cmp.Or(u.Port(), k.ports[i+1]), true
		}
	}
	defPath, pathed := "", false
	if err == nil {
		defPath, pathed = k.paths[u.Scheme]
	}
	switch {
	case err != nil, !known, u.Opaque != "":
		return "", fmt.Errorf("must be %s, got %q", k.want, a)
	case u.User != nil || (!pathed && u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("%s, got %q", k.only, a)
	case u.Hostname() == "":
		return "", fmt.Errorf("has no host, got %q", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("port must be 1 to 65535, got %q", port)
	}
	n := u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
	if pathed {
		n += cmp.Or(u.EscapedPath(), defPath)
	}
	return n, nil
}
