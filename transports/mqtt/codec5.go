package mqtt

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// MQTT 5 packets are encoded and decoded here by hand. codec5_test.go
// checks the encodings byte for byte against fixtures written from the
// MQTT 5.0 spec and against mochi's encoder (the embedded broker's, so no
// new dependency), and FuzzReadPacket5 that whatever this decoder accepts,
// mochi decodes the same way.

// typeAuth is MQTT 5's AUTH packet, which m2msim never asks for.
const typeAuth byte = 15

// MQTT 5 property identifiers (MQTT 5.0 section 2.2.2.2).
const (
	propPayloadFormat        = 0x01
	propMessageExpiry        = 0x02
	propContentType          = 0x03
	propResponseTopic        = 0x08
	propCorrelationData      = 0x09
	propSubscriptionID       = 0x0b
	propSessionExpiry        = 0x11
	propAssignedClientID     = 0x12
	propServerKeepAlive      = 0x13
	propAuthMethod           = 0x15
	propAuthData             = 0x16
	propRequestProblemInfo   = 0x17
	propWillDelay            = 0x18
	propRequestResponseInfo  = 0x19
	propResponseInfo         = 0x1a
	propServerReference      = 0x1c
	propReasonString         = 0x1f
	propReceiveMaximum       = 0x21
	propTopicAliasMaximum    = 0x22
	propTopicAlias           = 0x23
	propMaximumQoS           = 0x24
	propRetainAvailable      = 0x25
	propUserProperty         = 0x26
	propMaximumPacketSize    = 0x27
	propWildcardSubAvailable = 0x28
	propSubIDAvailable       = 0x29
	propSharedSubAvailable   = 0x2a
)

// propSize returns how many bytes the value of property id takes at the
// start of b, or -1 when id is unknown or b too short.
func propSize(id byte, b []byte) int {
	switch id {
	case propPayloadFormat, propRequestProblemInfo, propRequestResponseInfo, propMaximumQoS,
		propRetainAvailable, propWildcardSubAvailable, propSubIDAvailable, propSharedSubAvailable:
		return fits(1, b)
	case propServerKeepAlive, propReceiveMaximum, propTopicAliasMaximum, propTopicAlias:
		return fits(2, b)
	case propMessageExpiry, propSessionExpiry, propWillDelay, propMaximumPacketSize:
		return fits(4, b)
	case propSubscriptionID:
		_, n, ok := readVarint(b)
		if !ok {
			return -1
		}
		return n
	case propContentType, propResponseTopic, propAssignedClientID, propAuthMethod, propResponseInfo,
		propServerReference, propReasonString, propCorrelationData, propAuthData:
		return stringSize(b)
	case propUserProperty:
		k := stringSize(b)
		if k < 0 {
			return -1
		}
		v := stringSize(b[k:])
		if v < 0 {
			return -1
		}
		return k + v
	}
	return -1
}

func fits(n int, b []byte) int {
	if len(b) < n {
		return -1
	}
	return n
}

// stringSize is the length of the UTF-8 string or binary data (a 2-byte
// length and its bytes) at the start of b, or -1.
func stringSize(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	return fits(2+int(binary.BigEndian.Uint16(b)), b)
}

// readVarint reads an MQTT variable byte integer of at most 4 bytes.
func readVarint(b []byte) (v, n int, ok bool) {
	for i := 0; i < 4 && i < len(b); i++ {
		v |= int(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// props5 holds the properties a client acts on; the rest are skipped.
type props5 struct {
	receiveMax  uint16 // CONNACK; 0 when absent (the spec's default is 65,535)
	aliasMax    uint16 // CONNACK
	alias       uint16 // PUBLISH
	maxQoS      byte   // CONNACK; 2 when absent
	keepAlive   uint16 // CONNACK Server Keep Alive; 0 when absent
	hasKeepOver bool   // keepAlive was sent
	reason      []byte // Reason String; aliases the packet
}

// parseProps reads the property block (its length, then the properties)
// at the start of b and returns what follows it.
func parseProps(typ byte, b []byte) (props5, []byte, error) {
	pr := props5{maxQoS: 2}
	plen, n, ok := readVarint(b)
	if !ok {
		return pr, nil, protoErr(typ, "bad property length")
	}
	if n+plen > len(b) {
		return pr, nil, protoErr(typ, "properties of %d bytes, packet has %d", plen, len(b)-n)
	}
	rest, ps := b[n+plen:], b[n:n+plen]
	for len(ps) > 0 {
		id := ps[0]
		size := propSize(id, ps[1:])
		if size < 0 {
			return pr, nil, protoErr(typ, "bad property 0x%02x", id)
		}
		v := ps[1 : 1+size]
		if err := pr.set(typ, id, v); err != nil {
			return pr, nil, err
		}
		ps = ps[1+size:]
	}
	return pr, rest, nil
}

// set records the properties a client acts on.
func (pr *props5) set(typ, id byte, v []byte) error {
	switch id {
	case propReceiveMaximum:
		if pr.receiveMax = binary.BigEndian.Uint16(v); pr.receiveMax == 0 {
			return protoErr(typ, "receive maximum 0")
		}
	case propTopicAliasMaximum:
		pr.aliasMax = binary.BigEndian.Uint16(v)
	case propTopicAlias:
		if pr.alias = binary.BigEndian.Uint16(v); pr.alias == 0 {
			return protoErr(typ, "topic alias 0")
		}
	case propMaximumQoS:
		if pr.maxQoS = v[0]; pr.maxQoS > 1 {
			return protoErr(typ, "maximum qos %d", pr.maxQoS)
		}
	case propServerKeepAlive:
		pr.keepAlive, pr.hasKeepOver = binary.BigEndian.Uint16(v), true
	case propReasonString:
		pr.reason = v[2:]
	}
	return nil
}

// decode5 parses the body of an MQTT 5 packet a client may receive from a
// server. It never panics, whatever the bytes.
func decode5(first byte, body []byte) (packet, error) {
	p := packet{typ: first >> 4, flags: first & 0x0f}
	if want := wantFlags(p.typ); want >= 0 && p.flags != byte(want) {
		return p, protoErr(p.typ, "fixed header flags %04b, want %04b", p.flags, want)
	}
	switch p.typ {
	case typeConnack:
		return p, decodeConnack5(&p, body)
	case typePublish:
		return p, decodePublish5(&p, body)
	case typePuback, typePubrec, typePubrel, typePubcomp:
		return p, decodeAck5(&p, body)
	case typeSuback, typeUnsuback:
		return p, decodeSuback5(&p, body)
	case typePingresp:
		if len(body) != 0 {
			return p, protoErr(p.typ, "remaining length %d, want 0", len(body))
		}
		return p, nil
	case typeDisconnect:
		return p, decodeDisconnect5(&p, body)
	case typeAuth:
		return p, protoErr(p.typ, "AUTH: enhanced authentication is not supported")
	}
	return p, protoErr(p.typ, "not a packet a server sends")
}

func decodeConnack5(p *packet, body []byte) error {
	if len(body) < 2 {
		return protoErr(p.typ, "remaining length %d, want at least 2", len(body))
	}
	if body[0]&^1 != 0 {
		return protoErr(p.typ, "reserved acknowledge flags %08b", body[0])
	}
	p.code = body[1]
	if len(body) == 2 { // the properties are required, but harmless to miss
		p.props.maxQoS = 2
		return nil
	}
	return p.withProps(body[2:], true)
}

// withProps parses the properties at the start of b, which must be all
// that is left of the packet unless rest is false.
func (p *packet) withProps(b []byte, last bool) error {
	pr, rest, err := parseProps(p.typ, b)
	if err != nil {
		return err
	}
	if last && len(rest) != 0 {
		return protoErr(p.typ, "%d bytes after the properties", len(rest))
	}
	p.props = pr
	return nil
}

func decodePublish5(p *packet, body []byte) error {
	n, err := decodePublishHeader(p, body, true)
	if err != nil {
		return err
	}
	pr, rest, err := parseProps(p.typ, body[n:])
	if err != nil {
		return err
	}
	if len(p.topic) == 0 && pr.alias == 0 {
		return protoErr(p.typ, "empty topic and no topic alias")
	}
	p.props, p.payload = pr, rest
	return nil
}

// decodeAck5 parses PUBACK, PUBREC, PUBREL or PUBCOMP: a packet id, then
// optionally a reason code (success when absent) and properties.
func decodeAck5(p *packet, body []byte) error {
	if len(body) < 2 {
		return protoErr(p.typ, "remaining length %d, want at least 2", len(body))
	}
	if p.id = binary.BigEndian.Uint16(body); p.id == 0 {
		return protoErr(p.typ, "packet id 0")
	}
	if len(body) == 2 {
		return nil
	}
	p.code = body[2]
	if len(body) == 3 {
		return nil
	}
	return p.withProps(body[3:], true)
}

func decodeSuback5(p *packet, body []byte) error {
	if len(body) < 3 {
		return protoErr(p.typ, "remaining length %d, want at least 3", len(body))
	}
	if p.id = binary.BigEndian.Uint16(body); p.id == 0 {
		return protoErr(p.typ, "packet id 0")
	}
	pr, rest, err := parseProps(p.typ, body[2:])
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return protoErr(p.typ, "no reason codes")
	}
	p.props, p.codes = pr, rest
	for _, c := range p.codes {
		if p.typ == typeSuback && c > 2 && c < 0x80 || p.typ == typeUnsuback && c > 0x11 && c < 0x80 {
			return protoErr(p.typ, "reason code 0x%02x", c)
		}
	}
	return nil
}

// decodeDisconnect5 parses a server's DISCONNECT: a reason code (normal
// disconnection when absent) and properties.
func decodeDisconnect5(p *packet, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	p.code = body[0]
	if len(body) == 1 {
		return nil
	}
	return p.withProps(body[1:], true)
}

// V5Options are a session's MQTT 5 settings, used when
// Options.ProtocolVersion is 5.
type V5Options struct {
	// SessionExpiry is CONNECT's Session Expiry Interval (whole seconds,
	// rounded up; at most 2^32-1 s, which means never): how long the
	// broker keeps the session after the connection ends. 0 ends it with
	// the connection.
	SessionExpiry time.Duration
	// ReceiveMaximum is advertised in CONNECT: the broker keeps at most
	// this many QoS 1 and 2 messages to this client unacknowledged. 0
	// sends nothing, which means 65,535.
	ReceiveMaximum uint16
	// TopicAliases is advertised in CONNECT as the Topic Alias Maximum
	// the broker may use towards this client, and caps the aliases this
	// client assigns to its own topics (the broker's maximum caps them
	// too). 0 uses none either way.
	TopicAliases uint16
	// UserProperties go on CONNECT and on every PUBLISH.
	UserProperties []UserProperty
	// MessageExpiry is every PUBLISH's Message Expiry Interval (whole
	// seconds, rounded up): the broker drops a message not delivered by
	// then. 0 sends none.
	MessageExpiry time.Duration
}

// UserProperty is an MQTT 5 user property, a name and a value.
type UserProperty struct {
	Key, Value string
}

// seconds converts d to an MQTT 5 interval, rounding up.
func seconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	s := (d + time.Second - 1) / time.Second
	return uint32(min(s, math.MaxUint32))
}

func (o *V5Options) check() error {
	for _, u := range o.UserProperties {
		if len(u.Key) > 0xffff || len(u.Value) > 0xffff {
			return fmt.Errorf("%w: user property %q of %d bytes", ErrInvalid, u.Key, len(u.Key)+len(u.Value))
		}
	}
	if n := len(publishProps(o)); n > 1<<16 {
		return fmt.Errorf("%w: %d bytes of publish properties", ErrInvalid, n)
	}
	return nil
}

// publishProps encodes the properties every PUBLISH carries: the message
// expiry and the user properties.
func publishProps(o *V5Options) []byte {
	var b []byte
	if e := seconds(o.MessageExpiry); e > 0 {
		b = append(b, propMessageExpiry)
		b = binary.BigEndian.AppendUint32(b, e)
	}
	for _, u := range o.UserProperties {
		b = append(b, propUserProperty)
		b = appendString(b, u.Key)
		b = appendString(b, u.Value)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// varintLen is the size of n as a variable byte integer.
func varintLen(n int) int {
	switch {
	case n < 1<<7:
		return 1
	case n < 1<<14:
		return 2
	case n < 1<<21:
		return 3
	}
	return 4
}

// checkPublish5 adds MQTT 5's bound to checkPublish's: the properties
// count against the remaining length.
func checkPublish5(id uint16, topic string, payload []byte, qos byte, props []byte) error {
	if err := checkPublish(id, topic, payload, qos); err != nil {
		return err
	}
	if 2+len(topic)+2+4+3+len(props)+len(payload) > maxRemaining {
		return fmt.Errorf("%w: payload of %d bytes", ErrInvalid, len(payload))
	}
	return nil
}

// appendPublish5 appends an MQTT 5 PUBLISH: topic may be empty when alias
// is set; props are the shared properties (publishProps), after the
// alias.
func appendPublish5(dst []byte, id uint16, topic string, alias uint16, props, payload []byte, qos byte, retain bool) []byte {
	first := typePublish<<4 | qos<<1
	if retain {
		first |= 1
	}
	plen := len(props)
	if alias != 0 {
		plen += 3
	}
	rl := 2 + len(topic) + varintLen(plen) + plen + len(payload)
	if qos > 0 {
		rl += 2
	}
	dst = append(dst, first)
	dst = appendLength(dst, rl)
	dst = appendString(dst, topic)
	if qos > 0 {
		dst = binary.BigEndian.AppendUint16(dst, id)
	}
	dst = appendLength(dst, plen)
	if alias != 0 {
		dst = append(dst, propTopicAlias, byte(alias>>8), byte(alias))
	}
	dst = append(dst, props...)
	return append(dst, payload...)
}

// connectPacket5 encodes an MQTT 5 CONNECT in one allocation, where
// mochi's encoder makes a packet struct and three pooled buffers: a
// connecting fleet sends thousands a second. TestEncodeConnect5MatchesMochi
// checks it byte for byte against mochi's.
func connectPacket5(o *Options) []byte {
	props := connectProps(&o.V5)
	flags := byte(0)
	if o.CleanSession {
		flags |= 0x02
	}
	rl := 10 + varintLen(props) + props + 2 + len(o.ClientID)
	if o.Username != "" {
		flags |= 0x80
		rl += 2 + len(o.Username)
	}
	if o.Password != "" {
		flags |= 0x40
		rl += 2 + len(o.Password)
	}
	b := make([]byte, 0, 1+4+rl)
	b = append(b, typeConnect<<4)
	b = appendLength(b, rl)
	b = append(b, 0, 4, 'M', 'Q', 'T', 'T', V5, flags)
	b = binary.BigEndian.AppendUint16(b, keepAliveSeconds(o.KeepAlive))
	b = appendLength(b, props)
	b = appendConnectProps(b, &o.V5)
	b = appendString(b, o.ClientID)
	if o.Username != "" {
		b = appendString(b, o.Username)
	}
	if o.Password != "" {
		b = appendString(b, o.Password)
	}
	return b
}

// connectProps is the size of CONNECT's properties.
func connectProps(v *V5Options) int {
	n := 0
	if seconds(v.SessionExpiry) > 0 {
		n += 5
	}
	if v.ReceiveMaximum > 0 {
		n += 3
	}
	if v.TopicAliases > 0 {
		n += 3
	}
	for _, u := range v.UserProperties {
		n += 1 + 2 + len(u.Key) + 2 + len(u.Value)
	}
	return n
}

// appendConnectProps appends CONNECT's properties, in mochi's order.
func appendConnectProps(b []byte, v *V5Options) []byte {
	if e := seconds(v.SessionExpiry); e > 0 {
		b = append(b, propSessionExpiry)
		b = binary.BigEndian.AppendUint32(b, e)
	}
	if v.ReceiveMaximum > 0 {
		b = append(b, propReceiveMaximum, byte(v.ReceiveMaximum>>8), byte(v.ReceiveMaximum))
	}
	if v.TopicAliases > 0 {
		b = append(b, propTopicAliasMaximum, byte(v.TopicAliases>>8), byte(v.TopicAliases))
	}
	for _, u := range v.UserProperties {
		b = append(b, propUserProperty)
		b = appendString(b, u.Key)
		b = appendString(b, u.Value)
	}
	return b
}

// subscribePacket5 encodes an MQTT 5 SUBSCRIBE, each filter prefixed
// with prefix and asking for its QoS with no other options.
func subscribePacket5(id uint16, subs []Subscription, prefix string) []byte {
	rl := 2 + 1
	for _, s := range subs {
		rl += 2 + len(prefix) + len(s.Topic) + 1
	}
	b := make([]byte, 0, 1+4+rl)
	b = append(b, typeSubscribe<<4|2)
	b = appendLength(b, rl)
	b = binary.BigEndian.AppendUint16(b, id)
	b = append(b, 0) // no properties
	for _, s := range subs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(prefix)+len(s.Topic)))
		b = append(b, prefix...)
		b = append(b, s.Topic...)
		b = append(b, s.QoS)
	}
	return b
}
