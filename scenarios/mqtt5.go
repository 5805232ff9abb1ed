package scenarios

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/mqtt"
)

// MQTT is an MQTT group's protocol settings: its version and, for MQTT 5,
// the session and message properties its devices send. The MQTT 5 keys
// are left out of the normalised form when unset, so an MQTT 3.1.1
// group's form reads back.
type MQTT struct {
	// ProtocolVersion is 4 (MQTT 3.1.1, the default) or 5 (MQTT 5), the
	// protocol levels CONNECT carries.
	ProtocolVersion int `yaml:"protocol_version"`
	// SessionExpiry is how long the broker keeps a device's session after
	// its connection ends; 0 ends it with the connection.
	SessionExpiry time.Duration `yaml:"session_expiry,omitempty"`
	// ReceiveMaximum is advertised to the broker: at most this many QoS 1
	// and 2 messages to a device unacknowledged; 0 sends none (65,535).
	ReceiveMaximum int `yaml:"receive_maximum,omitempty"`
	// TopicAliases is the Topic Alias Maximum: how many topics a device
	// sends as aliases (the broker's own maximum caps it), and how many
	// the broker may alias towards it.
	TopicAliases int `yaml:"topic_aliases,omitempty"`
	// UserProperties go on CONNECT and every PUBLISH, in order; a key
	// may repeat. Values are templates rendered once per connection.
	UserProperties []UserProperty `yaml:"user_properties,omitempty"`
	// MessageExpiry is every PUBLISH's Message Expiry Interval; 0 sends
	// none.
	MessageExpiry time.Duration `yaml:"message_expiry,omitempty"`
	// Broker is where the group's devices connect when it is not
	// target.broker: another listener of the same broker, such as
	// embedded+ws for MQTT over WebSocket beside a fleet on TCP. The
	// backend stays on target.broker.
	Broker string `yaml:"broker,omitempty"`
}

// UserProperty is one MQTT 5 user property.
type UserProperty struct {
	Key   string        `yaml:"key"`
	Value *sim.Template `yaml:"value"`
}

// MQTT protocol levels.
const (
	mqttV311 = 4
	mqttV5   = 5
)

// maxInterval is the largest MQTT 5 interval: 2^32-1 seconds.
const maxInterval = time.Duration(math.MaxUint32) * time.Second

func (m *MQTT) withDefaults(has func(string) bool) {
	if !has("protocol_version") {
		m.ProtocolVersion = mqttV311
	}
	if b, err := brokerAddress.normalise(m.Broker); m.Broker != "" && err == nil {
		m.Broker = b
	}
}

// mqttVersion is the group's MQTT protocol level.
func (g *Group) mqttVersion() int {
	if g.MQTT == nil {
		return mqttV311
	}
	return g.MQTT.ProtocolVersion
}

// BackendVersion is the MQTT protocol level of the backend's connections:
// backend.protocol_version, else 5 when any MQTT group speaks MQTT 5.
func (s *Scenario) BackendVersion() int {
	if v := s.Backend.ProtocolVersion; v != 0 {
		return v
	}
	for i := range s.Groups {
		if g := &s.Groups[i]; g.Protocol == ProtocolMQTT && g.mqttVersion() == mqttV5 {
			return mqttV5
		}
	}
	return mqttV311
}

// validateMQTT checks every group's mqtt block and the backend's version.
func (s *Scenario) validateMQTT(t *tree) {
	if v := s.Backend.ProtocolVersion; v != 0 && v != mqttV311 && v != mqttV5 {
		t.add("backend.protocol_version", "must be 4 (MQTT 3.1.1) or 5 (MQTT 5), got %d", v)
	}
	for i := range s.Groups {
		g, p := &s.Groups[i], fmt.Sprintf("groups[%d].mqtt", i)
		if g.MQTT == nil {
			continue
		}
		if g.Protocol != ProtocolMQTT {
			t.add(p, "applies to protocol: mqtt groups only")
			continue
		}
		g.MQTT.validate(t, p)
		s.validateGroupBroker(t, p+".broker", g)
		if g.MQTT.ProtocolVersion == mqttV5 && !g.Connect.CleanSession && g.MQTT.SessionExpiry == 0 {
			t.add(p+".session_expiry", "required with connect.clean_session: false: "+
				"an MQTT 5 session with no expiry ends with its connection")
		}
	}
}

func (m *MQTT) validate(t *tree, p string) {
	switch m.ProtocolVersion {
	case mqttV311:
		for _, k := range []string{"session_expiry", "receive_maximum", "topic_aliases", "user_properties", "message_expiry"} {
			if t.has(p + "." + k) {
				t.add(p+"."+k, "is MQTT 5's: add protocol_version: 5")
			}
		}
		return
	case mqttV5:
	default:
		t.add(p+".protocol_version", "must be 4 (MQTT 3.1.1) or 5 (MQTT 5), got %d", m.ProtocolVersion)
		return
	}
	checkInterval(t, p+".session_expiry", m.SessionExpiry)
	checkInterval(t, p+".message_expiry", m.MessageExpiry)
	if m.ReceiveMaximum < 0 || m.ReceiveMaximum > math.MaxUint16 {
		t.add(p+".receive_maximum", "must be 0 (none sent) to 65535, got %d", m.ReceiveMaximum)
	}
	if m.TopicAliases < 0 || m.TopicAliases > math.MaxUint16 {
		t.add(p+".topic_aliases", "must be 0 (none) to 65535, got %d", m.TopicAliases)
	}
	for i, u := range m.UserProperties {
		q := fmt.Sprintf("%s.user_properties[%d]", p, i)
		switch {
		case u.Key == "":
			t.add(q+".key", "required: a user property's name")
		case len(u.Key) > math.MaxUint16:
			t.add(q+".key", "must be at most 65535 bytes, got %d", len(u.Key))
		}
		switch {
		case u.Value == nil:
			t.add(q+".value", "required: a user property's value (a template such as {{id}})")
		case u.Value.PerMessage():
			t.add(q+".value", "is rendered once per connection: use {{id}}, {{index}}, {{device}} or {{group}}, got %q", u.Value)
		}
	}
}

func checkInterval(t *tree, path string, d time.Duration) {
	if d < 0 || d > maxInterval {
		t.add(path, "must be 0 to %v, got %v", maxInterval, d)
	}
}

// mqttOptions sets a device's protocol version and MQTT 5 settings from
// its group.
func (s *Scenario) mqttOptions(o *mqtt.Options, spec *sim.ConnectSpec) {
	i, base := s.groupIndex(spec.Device)
	g := &s.Groups[i]
	o.ProtocolVersion, o.V5 = byte(g.mqttVersion()), mqtt.V5Options{}
	m := g.MQTT
	if m == nil || m.ProtocolVersion != mqttV5 {
		return
	}
	o.V5 = mqtt.V5Options{SessionExpiry: m.SessionExpiry, ReceiveMaximum: uint16(m.ReceiveMaximum),
		TopicAliases: uint16(m.TopicAliases), MessageExpiry: m.MessageExpiry}
	if len(m.UserProperties) > 0 {
		v := sim.Vars{ID: spec.ClientID, Index: spec.Device - base, Device: spec.Device, Group: g.Name}
		props := make([]mqtt.UserProperty, len(m.UserProperties))
		for j, u := range m.UserProperties {
			props[j] = mqtt.UserProperty{Key: u.Key, Value: u.Value.Render(&v)}
		}
		o.V5.UserProperties = props
	}
}

// backendMQTT sets the backend's protocol version. An MQTT 5 backend
// lets the broker alias the fleet's topics towards it.
func (s *Scenario) backendMQTT(o *mqtt.Options) {
	o.ProtocolVersion = byte(s.BackendVersion())
	if o.ProtocolVersion == mqtt.V5 {
		o.V5 = mqtt.V5Options{TopicAliases: backendTopicAliases}
	}
}

// backendTopicAliases is how many topics the broker may alias towards an
// MQTT 5 backend connection.
const backendTopicAliases = 1024

// countReason counts an MQTT 5 reason code the broker sent, if err
// carries one.
func countReason(h sim.Handler, err error) {
	var rc mqtt.ReasonCodeError
	if errors.As(err, &rc) {
		h.Count(rc.Kind())
	}
}

// AckReason counts an MQTT 5 acknowledgement's reason code, and ends the
// message's flow: acknowledged when the code is below 0x80 (0x10, no
// matching subscribers), failed with it otherwise.
func (m *mqttSession) AckReason(pid uint16, rc mqtt.ReasonCodeError) {
	m.h.Count(rc.Kind())
	m.mu.Lock()
	ref, ok := m.pids.take(pid)
	m.mu.Unlock()
	switch {
	case !ok:
	case rc.Failed():
		m.h.Failed(ref, rc)
	default:
		m.h.Acked(ref)
	}
}
