package mqtt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// MQTT 3.1.1 control packet types.
const (
	typeConnect     byte = 1
	typeConnack     byte = 2
	typePublish     byte = 3
	typePuback      byte = 4
	typePubrec      byte = 5
	typePubrel      byte = 6
	typePubcomp     byte = 7
	typeSubscribe   byte = 8
	typeSuback      byte = 9
	typeUnsubscribe byte = 10
	typeUnsuback    byte = 11
	typePingreq     byte = 12
	typePingresp    byte = 13
	typeDisconnect  byte = 14
)

const (
	// maxRemaining is the largest remaining length MQTT can encode.
	maxRemaining = 268_435_455
	// maxInbound bounds the packets a session accepts from the server, so
	// a hostile or broken length field cannot make it allocate 256 MiB.
	maxInbound = 1 << 20
)

var (
	pingreqPacket    = [2]byte{typePingreq << 4, 0}
	disconnectPacket = [2]byte{typeDisconnect << 4, 0}
)

// The hot path (PUBLISH and the acknowledgements) is encoded and decoded
// here by hand: paho's codec allocates 5-8 times per packet, copies every
// payload and cannot bound a length before allocating it (see
// BenchmarkEncode*, BenchmarkDecode*). Garbage costs GC cycles, and GC
// pauses land in the latencies m2msim measures. codec_test.go checks every
// encoding byte for byte against paho's, and FuzzDecode checks that
// whatever this decoder accepts, paho decodes the same way. The cold
// packets (CONNECT, SUBSCRIBE) use paho's encoder.

// appendLength appends n as an MQTT variable byte integer.
func appendLength(dst []byte, n int) []byte {
	for {
		d := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			d |= 0x80
		}
		dst = append(dst, d)
		if n == 0 {
			return dst
		}
	}
}

// checkPublish validates the arguments of a PUBLISH.
func checkPublish(id uint16, topic string, payload []byte, qos byte) error {
	switch {
	case qos > 2:
		return fmt.Errorf("%w: qos %d", ErrInvalid, qos)
	case qos > 0 && id == 0:
		return fmt.Errorf("%w: qos %d publish needs a non-zero packet id", ErrInvalid, qos)
	case topic == "" || len(topic) > 0xffff:
		return fmt.Errorf("%w: topic length %d", ErrInvalid, len(topic))
	case strings.ContainsAny(topic, "+#"):
		return fmt.Errorf("%w: wildcard in topic %q", ErrInvalid, topic)
	case 2+len(topic)+2+len(payload) > maxRemaining:
		return fmt.Errorf("%w: payload of %d bytes", ErrInvalid, len(payload))
	}
	return nil
}

// appendPublish appends a PUBLISH packet; the arguments must have passed
// checkPublish.
func appendPublish(dst []byte, id uint16, topic string, payload []byte, qos byte, retain bool) []byte {
	first := typePublish<<4 | qos<<1
	if retain {
		first |= 1
	}
	rl := 2 + len(topic) + len(payload)
	if qos > 0 {
		rl += 2
	}
	dst = append(dst, first)
	dst = appendLength(dst, rl)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(topic)))
	dst = append(dst, topic...)
	if qos > 0 {
		dst = binary.BigEndian.AppendUint16(dst, id)
	}
	return append(dst, payload...)
}

// ackPacket encodes PUBACK, PUBREC, PUBREL or PUBCOMP for id.
func ackPacket(typ byte, id uint16) [4]byte {
	first := typ << 4
	if typ == typePubrel {
		first |= 2 // PUBREL's reserved flags are 0010 [MQTT-3.6.1-1]
	}
	return [4]byte{first, 2, byte(id >> 8), byte(id)}
}

// connectPacket encodes CONNECT with paho's encoder.
func connectPacket(o *Options) []byte {
	p := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	p.ProtocolName = "MQTT"
	p.ProtocolVersion = 4
	p.CleanSession = o.CleanSession
	p.Keepalive = keepAliveSeconds(o.KeepAlive)
	p.ClientIdentifier = o.ClientID
	if o.Username != "" {
		p.UsernameFlag, p.Username = true, o.Username
	}
	if o.Password != "" {
		p.PasswordFlag, p.Password = true, []byte(o.Password)
	}
	var b bytes.Buffer
	_ = p.Write(&b) // writing to a bytes.Buffer cannot fail
	return b.Bytes()
}

// One SUBSCRIBE carries at most maxSubscribeFilters filters in at most
// about maxSubscribeBytes, so a backend subscribing 100,000 per-device
// filters sends modest packets that any broker takes (mochi refuses
// packets over its MaximumPacketSize, Mosquitto over message_size_limit)
// and gets each acknowledged in turn.
const (
	maxSubscribeFilters = 1000
	maxSubscribeBytes   = 64 << 10
)

// subscribeBatch returns how many of subs (at least one) the next
// SUBSCRIBE carries, each filter prefixed with prefix.
func subscribeBatch(subs []Subscription, prefix string) int {
	size := 2 // packet id
	for i, s := range subs {
		size += 2 + len(prefix) + len(s.Topic) + 1
		if i > 0 && (i == maxSubscribeFilters || size > maxSubscribeBytes) {
			return i
		}
	}
	return len(subs)
}

// subscribePacket encodes SUBSCRIBE with paho's encoder, each filter
// prefixed with prefix (a shared subscription's "$share/group/").
func subscribePacket(id uint16, subs []Subscription, prefix string) []byte {
	p := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	p.MessageID = id
	for _, s := range subs {
		p.Topics = append(p.Topics, prefix+s.Topic)
		p.Qoss = append(p.Qoss, s.QoS)
	}
	var b bytes.Buffer
	_ = p.Write(&b)
	return b.Bytes()
}

// checkSubscriptions validates topic filters before they go on the wire.
func checkSubscriptions(subs []Subscription) error {
	for _, s := range subs {
		if s.Topic == "" || len(s.Topic) > 0xffff || s.QoS > 2 {
			return fmt.Errorf("%w: subscription %q at qos %d", ErrInvalid, s.Topic, s.QoS)
		}
	}
	return nil
}

// parseHeader reads the fixed header at the start of b. ok is false when b
// is too short to hold it all; hl is the header's length and rl the
// remaining length that follows it.
func parseHeader(b []byte) (first byte, rl, hl int, ok bool, err error) {
	if len(b) < 2 {
		return 0, 0, 0, false, nil
	}
	first = b[0]
	for i := 1; i <= 4; i++ {
		if i >= len(b) {
			return 0, 0, 0, false, nil
		}
		rl |= int(b[i]&0x7f) << (7 * (i - 1))
		if b[i]&0x80 == 0 {
			return first, rl, i + 1, true, nil
		}
	}
	return 0, 0, 0, false, protoErr(first>>4, "remaining length longer than 4 bytes")
}

// packet is one decoded inbound packet. Its slices alias the read buffer.
type packet struct {
	typ     byte
	flags   byte
	id      uint16 // packet identifier, where the type has one
	code    byte   // CONNACK return code
	topic   []byte // PUBLISH
	payload []byte // PUBLISH
	codes   []byte // SUBACK return codes
	props   props5 // MQTT 5 properties
}

func (p *packet) qos() byte { return p.flags >> 1 & 3 }

// decode parses the body of a packet a client may receive from a server.
// It never panics, whatever the bytes.
func decode(first byte, body []byte) (packet, error) {
	p := packet{typ: first >> 4, flags: first & 0x0f}
	if want := wantFlags(p.typ); want >= 0 && p.flags != byte(want) {
		return p, protoErr(p.typ, "fixed header flags %04b, want %04b", p.flags, want)
	}
	switch p.typ {
	case typeConnack:
		return p, decodeConnack(&p, body)
	case typePublish:
		return p, decodePublish(&p, body)
	case typePuback, typePubrec, typePubrel, typePubcomp, typeUnsuback:
		return p, decodeID(&p, body)
	case typeSuback:
		return p, decodeSuback(&p, body)
	case typePingresp:
		if len(body) != 0 {
			return p, protoErr(p.typ, "remaining length %d, want 0", len(body))
		}
		return p, nil
	case typeDisconnect:
		// MQTT 3.1.1 servers never send DISCONNECT, but MQTT 5 servers
		// do, and mochi sends it to 3.1.1 clients when it shuts down.
		return p, nil
	}
	return p, protoErr(p.typ, "not a packet a server sends")
}

// wantFlags returns the fixed flags of a packet type, or -1 when they vary.
func wantFlags(typ byte) int {
	switch typ {
	case typePublish:
		return -1
	case typePubrel, typeSubscribe, typeUnsubscribe:
		return 2
	}
	return 0
}

func decodeConnack(p *packet, body []byte) error {
	if len(body) != 2 {
		return protoErr(p.typ, "remaining length %d, want 2", len(body))
	}
	if body[0]&^1 != 0 {
		return protoErr(p.typ, "reserved acknowledge flags %08b", body[0])
	}
	p.code = body[1]
	return nil
}

func decodePublish(p *packet, body []byte) error {
	n, err := decodePublishHeader(p, body, false)
	if err != nil {
		return err
	}
	p.payload = body[n:]
	return nil
}

// decodePublishHeader reads a PUBLISH's topic and packet id and returns
// where what follows them starts: the payload, or in MQTT 5 the
// properties. An empty topic is refused unless emptyTopic allows it (an
// MQTT 5 topic alias may stand for it).
func decodePublishHeader(p *packet, body []byte, emptyTopic bool) (int, error) {
	qos := p.qos()
	switch {
	case qos == 3:
		return 0, protoErr(p.typ, "qos 3")
	case qos == 0 && p.flags&8 != 0:
		return 0, protoErr(p.typ, "dup flag on a qos 0 message")
	case len(body) < 2:
		return 0, protoErr(p.typ, "remaining length %d too short for a topic", len(body))
	}
	end := 2 + int(binary.BigEndian.Uint16(body)) // end of the topic
	n := end                                      // start of what follows
	if qos > 0 {
		n += 2
	}
	if n > len(body) {
		return 0, protoErr(p.typ, "topic and id need %d bytes, packet has %d", n, len(body))
	}
	if p.topic = body[2:end]; len(p.topic) == 0 && !emptyTopic {
		return 0, protoErr(p.typ, "empty topic")
	}
	if qos > 0 {
		if p.id = binary.BigEndian.Uint16(body[end:]); p.id == 0 {
			return 0, protoErr(p.typ, "packet id 0")
		}
	}
	return n, nil
}

func decodeID(p *packet, body []byte) error {
	if len(body) != 2 {
		return protoErr(p.typ, "remaining length %d, want 2", len(body))
	}
	if p.id = binary.BigEndian.Uint16(body); p.id == 0 {
		return protoErr(p.typ, "packet id 0")
	}
	return nil
}

func decodeSuback(p *packet, body []byte) error {
	if len(body) < 3 {
		return protoErr(p.typ, "remaining length %d, want at least 3", len(body))
	}
	if p.id = binary.BigEndian.Uint16(body); p.id == 0 {
		return protoErr(p.typ, "packet id 0")
	}
	p.codes = body[2:]
	for _, c := range p.codes {
		if c > 2 && c != 0x80 {
			return protoErr(p.typ, "return code 0x%02x", c)
		}
	}
	return nil
}
