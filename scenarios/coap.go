package scenarios

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/coap"
)

// Protocols a group may speak.
const (
	ProtocolMQTT = "mqtt"
	ProtocolCoAP = "coap"
)

// CoAP is a CoAP group's message layer: RFC 7252's transmission
// parameters (§4.8), each with the RFC's default.
type CoAP struct {
	AckTimeout      time.Duration `yaml:"ack_timeout"`
	AckRandomFactor float64       `yaml:"ack_random_factor"`
	// MaxRetransmit is how often a confirmable request is sent again
	// before it times out; 0 sends it once.
	MaxRetransmit int `yaml:"max_retransmit"`
	NStart        int `yaml:"nstart"`
	// Queue bounds the requests a device holds beyond NStart; past it a
	// send fails as queue_full.
	Queue int `yaml:"queue"`
}

// CoAP defaults.
const (
	defaultCoAPPort     = "5683"
	defaultCoAPSPort    = "5684"
	defaultCoAPPath     = "/m2msim/{{group}}/{{index}}"
	defaultCoAPCommand  = "/m2msim/{{group}}/{{index}}/cmd"
	defaultCoAPQueue    = 64
	defaultCoAPMethod   = "POST"
	defaultCoAPRequest  = "GET"
	maxCoAPRetransmit   = 20
	maxCoAPAckTimeout   = 10 * time.Minute
	maxCoAPRandomFactor = 10
)

// IsCoAP reports whether the group speaks CoAP.
func (g *Group) IsCoAP() bool { return g.Protocol == ProtocolCoAP }

func (c *CoAP) withDefaults(has func(string) bool) {
	if !has("ack_timeout") {
		c.AckTimeout = coap.DefaultAckTimeout
	}
	if !has("ack_random_factor") {
		c.AckRandomFactor = coap.DefaultAckRandomFactor
	}
	if !has("max_retransmit") {
		c.MaxRetransmit = coap.DefaultMaxRetransmit
	}
	if !has("nstart") {
		c.NStart = coap.DefaultNStart
	}
	if !has("queue") {
		c.Queue = defaultCoAPQueue
	}
}

// validate checks a group's message layer, nil or defaulted.
func (c *CoAP) validate(t *tree, p string) {
	if c == nil {
		return
	}
	switch {
	case c.AckTimeout <= 0 || c.AckTimeout > maxCoAPAckTimeout:
		t.add(p+".ack_timeout", "must be > 0 and at most %s, got %s", maxCoAPAckTimeout, c.AckTimeout)
	case c.AckRandomFactor < 1 || c.AckRandomFactor > maxCoAPRandomFactor:
		t.add(p+".ack_random_factor", "must be 1 to %d, got %g", maxCoAPRandomFactor, c.AckRandomFactor)
	}
	if c.MaxRetransmit < 0 || c.MaxRetransmit > maxCoAPRetransmit {
		t.add(p+".max_retransmit", "must be 0 to %d, got %d", maxCoAPRetransmit, c.MaxRetransmit)
	}
	if c.NStart < 1 || c.NStart > 64 {
		t.add(p+".nstart", "must be 1 to 64, got %d", c.NStart)
	}
	if c.Queue < 1 || c.Queue > 4096 {
		t.add(p+".queue", "must be 1 to 4096, got %d", c.Queue)
	}
}

// options sets a session's message layer from c; nil leaves RFC 7252's.
func (c *CoAP) options(o *coap.Options) {
	if c == nil {
		return
	}
	o.AckTimeout, o.AckRandomFactor, o.MaxRetransmit = c.AckTimeout, c.AckRandomFactor, c.MaxRetransmit
	o.NStart, o.QueueLimit = c.NStart, c.Queue
	if o.MaxRetransmit == 0 {
		o.MaxRetransmit = -1 // the scenario's 0: sent once
	}
}

// coapDefaults gives a CoAP group its message layer and sends each flow
// to its path: the engine's destination for a CoAP message is its URI
// path, and a confirmable message is one it awaits an answer for.
func (g *Group) coapDefaults(has func(string) bool) {
	if g.CoAP == nil {
		g.CoAP = new(CoAP)
	}
	g.CoAP.withDefaults(scope(has, "coap"))
	if g.DTLS != nil {
		g.DTLS.withDefaults(scope(has, "dtls"))
	}
	if t := g.Telemetry; t != nil {
		if !has("telemetry.phase") {
			t.Phase = phaseRandom
		}
		t.Payload = orTemplate(t.Payload, defaultTelemetryPL)
		t.Path = orTemplate(t.Path, defaultCoAPPath)
		t.Method = orString(t.Method, defaultCoAPMethod)
	}
	if r := g.Requests; r != nil {
		r.Payload = orTemplate(r.Payload, defaultRequestPL)
		r.Method = orString(r.Method, defaultCoAPRequest)
	}
	if c := g.Commands; c != nil {
		c.Payload = orTemplate(c.Payload, defaultCommandPL)
		c.Path = orTemplate(c.Path, defaultCoAPCommand)
		if c.ReplyPath == nil {
			c.ReplyPath = sim.MustTemplate(c.Path.String() + "/reply")
		}
	}
}

func orString(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// confirmable maps a CoAP flow's confirmable setting (true by default)
// to the engine's QoS.
func confirmable(c *bool) int {
	if c != nil && !*c {
		return 0
	}
	return 1
}

// validateCoAP checks what a CoAP group has instead of MQTT's topics and
// QoS, and refuses what it cannot do yet.
func (g *Group) validateCoAP(t *tree, p string, embedded bool) {
	g.CoAP.validate(t, p+".coap")
	if g.Link.NATTimeout < 0 {
		t.add(p+".link.nat_timeout", "must be >= 0, got %s", g.Link.NATTimeout)
	}
	if c := g.Commands; c != nil {
		if !embedded {
			t.add(p+".commands", "take target.coap: embedded: m2msim's own CoAP server changes each device's command resource, which the device observes; another server has nothing to send them")
		}
		g.validateCoAPCommands(t, p+".commands")
	}
	for _, f := range []struct {
		key    string
		set    bool
		path   *sim.Template
		method string
	}{
		{"telemetry", g.Telemetry != nil, g.telemetryPath(), g.telemetryMethod()},
		{"requests", g.Requests != nil, g.requestPath(), g.requestMethod()},
	} {
		if f.set {
			g.validateCoAPFlow(t, p+"."+f.key, f.key, f.path, f.method)
		}
	}
}

func (g *Group) validateCoAPFlow(t *tree, p, key string, path *sim.Template, method string) {
	for _, k := range []string{"topic", "reply_topic", "qos", "retain"} {
		if t.has(p+"."+k) && !g.mqttDefault(key, k) {
			t.add(p+"."+k, "is MQTT's: a CoAP group sends to path, confirmable or not")
		}
	}
	if t.has(p + ".reply_path") {
		t.add(p+".reply_path", "is for commands: a CoAP request's answer is its response")
	}
	switch {
	case path == nil:
		t.add(p+".path", "required: the URI path each %s message goes to, such as /config", key)
	case !strings.HasPrefix(path.String(), "/"):
		t.add(p+".path", "must start with /, got %q", path)
	case path.PerMessage():
		t.add(p+".path", perMessageMsg)
	}
	allowed := []string{"POST", "PUT"}
	if key == "requests" {
		allowed = []string{"GET", "POST", "PUT", "FETCH"}
	}
	if !contains(allowed, method) {
		t.add(p+".method", "must be one of %s, got %q", strings.Join(allowed, ", "), method)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (g *Group) telemetryPath() *sim.Template {
	if g.Telemetry == nil {
		return nil
	}
	return g.Telemetry.Path
}

func (g *Group) telemetryMethod() string {
	if g.Telemetry == nil {
		return ""
	}
	return g.Telemetry.Method
}

func (g *Group) requestPath() *sim.Template {
	if g.Requests == nil {
		return nil
	}
	return g.Requests.Path
}

func (g *Group) requestMethod() string {
	if g.Requests == nil {
		return ""
	}
	return g.Requests.Method
}

// methodCode maps a validated method name to its code.
func methodCode(m string) coap.Code {
	switch m {
	case "GET":
		return coap.GET
	case "PUT":
		return coap.PUT
	case "FETCH":
		return coap.NewCode(0, 5)
	}
	return coap.POST
}

// CoAPAddr returns the CoAP server's host:port, or "" for none or the
// embedded one.
func (t Target) CoAPAddr() string {
	u, err := url.Parse(t.CoAP)
	if t.CoAP == "" || t.CoAPEmbedded() || err != nil {
		return ""
	}
	return u.Host
}

// CoAPSecure reports whether CoAP groups speak DTLS to their server
// (coaps://).
func (t Target) CoAPSecure() bool { return strings.HasPrefix(t.CoAP, "coaps://") }

// CoAPEmbedded reports whether CoAP groups run against m2msim's own CoAP
// server, which then plays the backend: it times what devices send end
// to end and sends their commands.
func (t Target) CoAPEmbedded() bool { return t.CoAP == brokerEmbedded }

// validateCoAPCommands checks a CoAP group's command paths: each device
// observes its own resource.
func (g *Group) validateCoAPCommands(t *tree, p string) {
	c := g.Commands
	checkPeriod(t, p, c.Every, c.Jitter)
	checkSize(t, p+".size", c.Size)
	for _, k := range []string{"topic", "reply_topic", "qos"} {
		if t.has(p+"."+k) && !(k == "qos" && c.QoS == 0) {
			t.add(p+"."+k, "is MQTT's: a CoAP group's commands use path and reply_path")
		}
	}
	for _, f := range []struct {
		key string
		tpl *sim.Template
	}{{"path", c.Path}, {"reply_path", c.ReplyPath}} {
		switch s := f.tpl.String(); {
		case !strings.HasPrefix(s, "/"):
			t.add(p+"."+f.key, "must start with /, got %q", s)
		case f.tpl.PerMessage():
			t.add(p+"."+f.key, perMessageMsg)
		case !f.tpl.Uses("id") && !f.tpl.Uses("index") && !f.tpl.Uses("device"):
			t.add(p+"."+f.key, "must use {{id}}, {{index}} or {{device}} so each device gets its own resource, got %q", s)
		}
	}
	if c.Path.String() == c.ReplyPath.String() {
		t.add(p+".reply_path", "must differ from path, got %q for both", c.Path)
	}
}

// validateProtocols checks each group's protocol and that the target
// names a server for it.
func (s *Scenario) validateProtocols(t *tree) {
	need := false
	for i := range s.Groups {
		g := &s.Groups[i]
		p := fmt.Sprintf("groups[%d]", i)
		switch g.Protocol {
		case ProtocolMQTT:
			if g.CoAP != nil {
				t.add(p+".coap", "applies to protocol: coap groups only")
			}
			if g.DTLS != nil {
				t.add(p+".dtls", "applies to protocol: coap and lwm2m groups only")
			}
			if g.Link.NATTimeout != 0 {
				t.add(p+".link.nat_timeout", "applies to CoAP groups (UDP) only: an idle TCP connection keeps its NAT binding with keepalive")
			}
		case ProtocolCoAP:
			need = true
		case ProtocolLwM2M: // validateLwM2M
		default:
			t.add(p+".protocol", "must be mqtt, coap or lwm2m, got %q", g.Protocol)
		}
	}
	if s.Target.CoAP != "" && !s.Target.CoAPEmbedded() {
		if _, err := coapAddress.normalise(s.Target.CoAP); err != nil {
			t.add("target.coap", "%v", err)
		}
	}
	if s.Target.CoAP != "" && !need {
		t.add("target.coap", "no group speaks CoAP: add protocol: coap to a group, or remove target.coap")
	}
	for i := range s.Groups {
		g, p := &s.Groups[i], fmt.Sprintf("groups[%d]", i)
		if !g.IsCoAP() {
			continue
		}
		g.validateCoAP(t, p, s.Target.CoAPEmbedded())
		switch {
		case g.DTLS != nil:
			g.DTLS.validate(t, p+".dtls", "target.coap", s.Target.CoAPSecure(), s.Target.CoAPEmbedded())
		case s.Target.CoAPSecure():
			t.add(p+".dtls", "required: target.coap is coaps://, so the group needs a key or certificates")
		}
	}
}

// mqttDefault reports whether flow key's MQTT setting k holds its zero
// value, as the normalised form of a CoAP group writes it.
func (g *Group) mqttDefault(key, k string) bool {
	switch {
	case key == "telemetry" && k == "qos":
		return g.Telemetry.QoS == 0
	case key == "telemetry" && k == "retain":
		return !g.Telemetry.Retain
	case key == "requests" && k == "qos":
		return g.Requests.QoS == 0
	}
	return false
}
