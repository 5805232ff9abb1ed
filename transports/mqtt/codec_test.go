package mqtt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// fixture is one wire packet: the bytes, and the paho packet that encodes
// to them. Codec and session tests share this table.
type fixture struct {
	name string
	hex  string
	paho func() packets.ControlPacket
}

func pahoPublish(id uint16, topic string, payload []byte, qos byte, retain bool) func() packets.ControlPacket {
	return func() packets.ControlPacket {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.MessageID, p.TopicName, p.Payload, p.Qos, p.Retain = id, topic, payload, qos, retain
		return p
	}
}

func pahoAck(typ byte, id uint16) func() packets.ControlPacket {
	return func() packets.ControlPacket {
		p := packets.NewControlPacket(typ)
		switch p := p.(type) {
		case *packets.PubackPacket:
			p.MessageID = id
		case *packets.PubrecPacket:
			p.MessageID = id
		case *packets.PubrelPacket:
			p.MessageID = id
		case *packets.PubcompPacket:
			p.MessageID = id
		}
		return p
	}
}

var (
	payload200 = bytes.Repeat([]byte{'x'}, 200)
	topic130   = strings.Repeat("t", 130)
)

var publishFixtures = []struct {
	fixture
	id      uint16
	topic   string
	payload []byte
	qos     byte
	retain  bool
}{
	{fixture: fixture{name: "qos0", hex: "30080003612f62686921"}, topic: "a/b", payload: []byte("hi!")},
	{fixture: fixture{name: "qos0 retain empty payload", hex: "310300017a"}, topic: "z", retain: true},
	{fixture: fixture{name: "qos1", hex: "320a0003612f620007686921"}, id: 7, topic: "a/b", payload: []byte("hi!"), qos: 1},
	{fixture: fixture{name: "qos2 retain id 65535", hex: "350600017affff7e"}, id: 0xffff, topic: "z", payload: []byte("~"), qos: 2, retain: true},
	{fixture: fixture{name: "two-byte length", hex: "32cf01" + "0003612f620102" + strings.Repeat("78", 200)}, id: 0x0102, topic: "a/b", payload: payload200, qos: 1},
	{fixture: fixture{name: "long topic", hex: "308501" + "0082" + strings.Repeat("74", 130) + "70"}, topic: topic130, payload: []byte("p")},
}

var ackFixtures = []struct {
	fixture
	typ byte
	id  uint16
}{
	{fixture: fixture{name: "puback", hex: "40020007"}, typ: typePuback, id: 7},
	{fixture: fixture{name: "pubrec", hex: "50020102"}, typ: typePubrec, id: 0x0102},
	{fixture: fixture{name: "pubrel", hex: "6202ffff"}, typ: typePubrel, id: 0xffff},
	{fixture: fixture{name: "pubcomp", hex: "70020001"}, typ: typePubcomp, id: 1},
}

func init() {
	for i := range publishFixtures {
		f := &publishFixtures[i]
		f.paho = pahoPublish(f.id, f.topic, f.payload, f.qos, f.retain)
	}
	for i := range ackFixtures {
		f := &ackFixtures[i]
		f.paho = pahoAck(f.typ, f.id)
	}
}

func pahoBytes(t *testing.T, f func() packets.ControlPacket) string {
	t.Helper()
	var b bytes.Buffer
	if err := f().Write(&b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b.Bytes())
}

func TestEncodePublishMatchesPaho(t *testing.T) {
	for _, f := range publishFixtures {
		if err := checkPublish(f.id, f.topic, f.payload, f.qos); err != nil {
			t.Fatalf("%s: checkPublish = %v", f.name, err)
		}
		got := hex.EncodeToString(appendPublish(nil, f.id, f.topic, f.payload, f.qos, f.retain))
		if got != f.hex {
			t.Errorf("%s: appendPublish = %s, want %s", f.name, got, f.hex)
		}
		if p := pahoBytes(t, f.paho); p != f.hex {
			t.Errorf("%s: paho encodes %s, fixture says %s", f.name, p, f.hex)
		}
	}
}

func TestEncodeAckMatchesPaho(t *testing.T) {
	for _, f := range ackFixtures {
		b := ackPacket(f.typ, f.id)
		if got := hex.EncodeToString(b[:]); got != f.hex {
			t.Errorf("ackPacket(%s, %d) = %s, want %s", packetName(f.typ), f.id, got, f.hex)
		}
		if p := pahoBytes(t, f.paho); p != f.hex {
			t.Errorf("%s: paho encodes %s, fixture says %s", f.name, p, f.hex)
		}
	}
}

func TestEncodeFixedPacketsMatchPaho(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		typ  byte
	}{
		{"pingreq", pingreqPacket[:], packets.Pingreq},
		{"disconnect", disconnectPacket[:], packets.Disconnect},
	}
	for _, tt := range tests {
		want := pahoBytes(t, func() packets.ControlPacket { return packets.NewControlPacket(tt.typ) })
		if got := hex.EncodeToString(tt.got); got != want {
			t.Errorf("%s = %s, want %s", tt.name, got, want)
		}
	}
}

// decodeHex frames and decodes one packet from a hex fixture.
func decodeHex(t *testing.T, h string) (packet, error) {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var r reader
	first, body, err := r.next(bytes.NewReader(b))
	if err != nil {
		return packet{}, err
	}
	return decode(first, body)
}

func TestDecodeFixtures(t *testing.T) {
	for _, f := range publishFixtures {
		p, err := decodeHex(t, f.hex)
		if err != nil {
			t.Fatalf("decode(%s) = %v", f.name, err)
		}
		if p.typ != typePublish || p.id != f.id || string(p.topic) != f.topic ||
			!bytes.Equal(p.payload, f.payload) || p.qos() != f.qos || (p.flags&1 == 1) != f.retain {
			t.Errorf("decode(%s) = %+v, want id %d topic %q qos %d retain %v", f.name, p, f.id, f.topic, f.qos, f.retain)
		}
	}
	for _, f := range ackFixtures {
		p, err := decodeHex(t, f.hex)
		if err != nil || p.typ != f.typ || p.id != f.id {
			t.Errorf("decode(%s) = %+v, %v; want type %d id %d", f.name, p, err, f.typ, f.id)
		}
	}
}

func TestDecodeServerPackets(t *testing.T) {
	tests := []struct {
		hex     string
		typ     byte
		code    byte
		id      uint16
		codes   string
		problem string // non-empty: want a ProtocolError containing it
	}{
		{hex: "20020000", typ: typeConnack},
		{hex: "20020105", typ: typeConnack, code: 5},
		{hex: "d000", typ: typePingresp},
		{hex: "9005000a000180", typ: typeSuback, id: 10, codes: "000180"},
		{hex: "b0020003", typ: typeUnsuback, id: 3},
		{hex: "e000", typ: typeDisconnect},
		{hex: "e0018e", typ: typeDisconnect}, // MQTT 5 reason code: shutting down
		{hex: "200300000000", problem: "remaining length 3, want 2"},
		{hex: "20020200", problem: "reserved acknowledge flags"},
		{hex: "21020000", problem: "flags 0001, want 0000"},
		{hex: "60020001", problem: "flags 0000, want 0010"},
		{hex: "40020000", problem: "packet id 0"},
		{hex: "4003000100", problem: "remaining length 3, want 2"},
		{hex: "d00100", problem: "remaining length 1, want 0"},
		{hex: "36050001610001", problem: "qos 3"},
		{hex: "3805000161ffff", problem: "dup flag on a qos 0"},
		{hex: "3001ff", problem: "too short for a topic"},
		{hex: "3004000561ffff", problem: "topic and id need 7 bytes"},
		{hex: "320400010a00", problem: "topic and id need 5 bytes"},
		{hex: "32050001610000", problem: "packet id 0"},
		{hex: "30020000", problem: "empty topic"},
		{hex: "9003000103", problem: "return code 0x03"},
		{hex: "90020001", problem: "want at least 3"},
		{hex: "1000", problem: "CONNECT: not a packet a server sends"},
		{hex: "c000", problem: "PINGREQ: not a packet a server sends"},
		{hex: "f000", problem: "RESERVED(15)"},
		{hex: "30ffffffff01", problem: "remaining length longer than 4 bytes"},
		{hex: "30ffffff7f", problem: "exceeds the 1048576 byte limit"},
	}
	for _, tt := range tests {
		p, err := decodeHex(t, tt.hex)
		if tt.problem != "" {
			var pe ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("decode(%s) = %v, want a ProtocolError about %q", tt.hex, err, tt.problem)
			}
			continue
		}
		if err != nil || p.typ != tt.typ || p.code != tt.code || p.id != tt.id || hex.EncodeToString(p.codes) != tt.codes {
			t.Errorf("decode(%s) = %+v, %v; want type %d code %d id %d codes %s", tt.hex, p, err, tt.typ, tt.code, tt.id, tt.codes)
		}
	}
}

func TestCheckPublish(t *testing.T) {
	tests := []struct {
		id    uint16
		topic string
		qos   byte
		ok    bool
	}{
		{0, "a", 0, true},
		{1, "a", 1, true},
		{0, "a", 1, false},
		{0, "a", 2, false},
		{1, "a", 3, false},
		{0, "", 0, false},
		{0, "a/+", 0, false},
		{0, "a/#", 0, false},
		{0, strings.Repeat("a", 0x10000), 0, false},
	}
	for _, tt := range tests {
		err := checkPublish(tt.id, tt.topic, nil, tt.qos)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("checkPublish(%d, %.10q, qos %d) = %v, want ok=%v", tt.id, tt.topic, tt.qos, err, tt.ok)
		}
	}
}

func TestKeepAliveSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want uint16
	}{
		{"0s", 0}, {"-1s", 0}, {"1ns", 1}, {"400ms", 1}, {"1s", 1}, {"1.4s", 1},
		{"1.5s", 2}, {"60s", 60}, {"18h12m15s", 65535}, {"100h", 65535},
	}
	for _, tt := range tests {
		d, err := time.ParseDuration(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := keepAliveSeconds(d); got != tt.want {
			t.Errorf("keepAliveSeconds(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestConnackError(t *testing.T) {
	tests := []struct {
		code      byte
		msg, kind string
	}{
		{1, "connack: unacceptable protocol version (1)", "connack_bad_protocol_version"},
		{2, "connack: identifier rejected (2)", "connack_identifier_rejected"},
		{3, "connack: server unavailable (3)", "connack_server_unavailable"},
		{4, "connack: bad user name or password (4)", "connack_bad_credentials"},
		{5, "connack: not authorized (5)", "connack_not_authorized"},
		{9, "connack: unknown return code (9)", "connack_code_9"},
	}
	for _, tt := range tests {
		e := ConnackError{Code: tt.code}
		if e.Error() != tt.msg || e.Kind() != tt.kind {
			t.Errorf("ConnackError{%d} = %q, %q; want %q, %q", tt.code, e.Error(), e.Kind(), tt.msg, tt.kind)
		}
	}
}
