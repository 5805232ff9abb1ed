package mqtt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2/packets"
)

func wire5(t testing.TB, name string) []byte {
	t.Helper()
	h, ok := Wire5[name]
	if !ok {
		t.Fatalf("no fixture %q", name)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatalf("fixture %q: %v", name, err)
	}
	return b
}

// frame splits a fixture into its first byte and body.
func frame(t testing.TB, b []byte) (byte, []byte) {
	t.Helper()
	first, rl, hl, ok, err := parseHeader(b)
	if !ok || err != nil || hl+rl != len(b) {
		t.Fatalf("fixture %x does not frame: rl %d hl %d ok %v err %v", b, rl, hl, ok, err)
	}
	return first, b[hl:]
}

func TestEncodeConnect5(t *testing.T) {
	tests := []struct {
		fixture string
		o       Options
	}{
		{"connect", Options{ClientID: "d1", KeepAlive: time.Minute, CleanSession: true, V5: V5Options{
			SessionExpiry: time.Hour, ReceiveMaximum: 16, TopicAliases: 8, UserProperties: []UserProperty{{"k", "v"}}}}},
		{"connect bare", Options{ClientID: "d"}},
	}
	for _, tt := range tests {
		got := hex.EncodeToString(connectPacket5(&tt.o))
		if got != Wire5[tt.fixture] {
			t.Errorf("connectPacket5(%s) = %s, want %s", tt.fixture, got, Wire5[tt.fixture])
		}
	}
	// mochi's decoder, the broker's view, reads the fixture back.
	first, body := frame(t, wire5(t, "connect"))
	pk := mochi.Packet{FixedHeader: mochi.FixedHeader{Type: first >> 4}, ProtocolVersion: 5}
	if err := pk.ConnectDecode(body); err != nil {
		t.Fatalf("mochi ConnectDecode = %v", err)
	}
	pr := pk.Properties
	if pk.Connect.ClientIdentifier != "d1" || pk.Connect.Keepalive != 60 || !pk.Connect.Clean ||
		pr.SessionExpiryInterval != 3600 || pr.ReceiveMaximum != 16 || pr.TopicAliasMaximum != 8 ||
		len(pr.User) != 1 || pr.User[0] != (mochi.UserProperty{Key: "k", Val: "v"}) {
		t.Errorf("mochi reads %+v %+v", pk.Connect, pr)
	}
}

// mochiConnect is what mochi's encoder makes of o's CONNECT.
func mochiConnect(o *Options) []byte {
	pk := mochi.Packet{FixedHeader: mochi.FixedHeader{Type: mochi.Connect}, ProtocolVersion: 5}
	pk.Connect = mochi.ConnectParams{ProtocolName: []byte("MQTT"), Clean: o.CleanSession,
		Keepalive: keepAliveSeconds(o.KeepAlive), ClientIdentifier: o.ClientID}
	if o.Username != "" {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(o.Username)
	}
	if o.Password != "" {
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(o.Password)
	}
	if e := seconds(o.V5.SessionExpiry); e > 0 {
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = e, true
	}
	pk.Properties.ReceiveMaximum, pk.Properties.TopicAliasMaximum = o.V5.ReceiveMaximum, o.V5.TopicAliases
	for _, u := range o.V5.UserProperties {
		pk.Properties.User = append(pk.Properties.User, mochi.UserProperty{Key: u.Key, Val: u.Value})
	}
	var b bytes.Buffer
	_ = pk.ConnectEncode(&b)
	return b.Bytes()
}

func TestEncodeConnect5MatchesMochi(t *testing.T) {
	long := strings.Repeat("x", 300)
	for i, o := range []Options{
		{ClientID: "d"},
		{ClientID: "dev", Username: "u", Password: "p", KeepAlive: 90 * time.Second, CleanSession: true},
		{ClientID: long, Password: "only", V5: V5Options{SessionExpiry: 1500 * time.Millisecond, TopicAliases: 0xffff}},
		{ClientID: "p", V5: V5Options{ReceiveMaximum: 1, UserProperties: []UserProperty{{"a", long}, {"a", ""}, {"", "b"}}}},
	} {
		got, want := hex.EncodeToString(connectPacket5(&o)), hex.EncodeToString(mochiConnect(&o))
		if got != want {
			t.Errorf("options %d: connectPacket5 = %s, mochi encodes %s", i, got, want)
		}
	}
}

func TestEncodeSubscribe5MatchesMochi(t *testing.T) {
	subs := []Subscription{{Topic: "cmd/#", QoS: 1}, {Topic: strings.Repeat("t", 200), QoS: 2}, {Topic: "z", QoS: 0}}
	pk := mochi.Packet{FixedHeader: mochi.FixedHeader{Type: mochi.Subscribe, Qos: 1}, ProtocolVersion: 5, PacketID: 0x0102}
	for _, s := range subs {
		pk.Filters = append(pk.Filters, mochi.Subscription{Filter: "$share/g/" + s.Topic, Qos: s.QoS})
	}
	var b bytes.Buffer
	_ = pk.SubscribeEncode(&b)
	if got, want := hex.EncodeToString(subscribePacket5(0x0102, subs, "$share/g/")), hex.EncodeToString(b.Bytes()); got != want {
		t.Errorf("subscribePacket5 = %s, mochi encodes %s", got, want)
	}
}

func TestEncodeSubscribe5(t *testing.T) {
	got := hex.EncodeToString(subscribePacket5(1, []Subscription{{Topic: "cmd/#", QoS: 1}}, ""))
	if got != Wire5["subscribe"] {
		t.Errorf("subscribePacket5 = %s, want %s", got, Wire5["subscribe"])
	}
}

var publish5Tests = []struct {
	fixture string
	id      uint16
	topic   string // as on the wire
	alias   uint16
	o       V5Options
	payload string
	qos     byte
}{
	{fixture: "publish qos0", topic: "a/b", payload: "hi!"},
	{fixture: "publish alias set", id: 7, topic: "a/b", alias: 1, o: V5Options{MessageExpiry: 30 * time.Second}, payload: "hi!", qos: 1},
	{fixture: "publish alias used", id: 8, alias: 1, o: V5Options{MessageExpiry: 29500 * time.Millisecond}, payload: "hi!", qos: 1},
	{fixture: "publish user property", topic: "z", o: V5Options{UserProperties: []UserProperty{{"k", "v"}}}, payload: "p"},
}

func TestEncodePublish5(t *testing.T) {
	for _, tt := range publish5Tests {
		got := hex.EncodeToString(appendPublish5(nil, tt.id, tt.topic, tt.alias, publishProps(&tt.o), []byte(tt.payload), tt.qos, false))
		if got != Wire5[tt.fixture] {
			t.Errorf("appendPublish5(%s) = %s, want %s", tt.fixture, got, Wire5[tt.fixture])
		}
	}
}

func TestDecodePublish5(t *testing.T) {
	for _, tt := range publish5Tests {
		p, err := decode5(frame(t, wire5(t, tt.fixture)))
		if err != nil {
			t.Fatalf("decode5(%s) = %v", tt.fixture, err)
		}
		if p.typ != typePublish || p.id != tt.id || string(p.topic) != tt.topic || p.props.alias != tt.alias ||
			string(p.payload) != tt.payload || p.qos() != tt.qos {
			t.Errorf("decode5(%s) = %+v", tt.fixture, p)
		}
	}
}

func TestDecodeAcks5(t *testing.T) {
	tests := []struct {
		fixture string
		typ     byte
		id      uint16
		code    byte
		reason  string
		codes   string
	}{
		{fixture: "puback", typ: typePuback, id: 7},
		{fixture: "puback no subscribers", typ: typePuback, id: 7, code: 0x10},
		{fixture: "puback not authorized", typ: typePuback, id: 7, code: 0x87, reason: "no"},
		{fixture: "connack bare", typ: typeConnack},
		{fixture: "connack not authorized", typ: typeConnack, code: 0x87, reason: "no"},
		{fixture: "suback", typ: typeSuback, id: 1, codes: "\x01\x87"},
		{fixture: "disconnect taken over", typ: typeDisconnect, code: 0x8e},
	}
	for _, tt := range tests {
		p, err := decode5(frame(t, wire5(t, tt.fixture)))
		if err != nil {
			t.Fatalf("decode5(%s) = %v", tt.fixture, err)
		}
		if p.typ != tt.typ || p.id != tt.id || p.code != tt.code || string(p.props.reason) != tt.reason ||
			string(p.codes) != tt.codes {
			t.Errorf("decode5(%s) = %+v", tt.fixture, p)
		}
	}
}

func TestDecodeConnack5Limits(t *testing.T) {
	p, err := decode5(frame(t, wire5(t, "connack")))
	if err != nil {
		t.Fatal(err)
	}
	v := newV5State(&V5Options{TopicAliases: 50})
	v.connack(&p.props)
	if v.quota != 20 || v.aliasMax != 10 || v.maxQoS != 1 {
		t.Errorf("after CONNACK: quota %d, alias max %d, max qos %d; want 20, 10, 1", v.quota, v.aliasMax, v.maxQoS)
	}
	p, _ = decode5(frame(t, wire5(t, "connack bare")))
	v.connack(&p.props)
	if v.quota != 0xffff || v.aliasMax != 0 || v.maxQoS != 2 {
		t.Errorf("after a bare CONNACK: quota %d, alias max %d, max qos %d; want 65535, 0, 2", v.quota, v.aliasMax, v.maxQoS)
	}
}

func TestDecode5Malformed(t *testing.T) {
	tests := map[string]string{
		"property length past the end":   "3205" + "00017a" + "09" + "00",
		"unknown property":               "3006" + "00017a" + "01" + "7f" + "70",
		"topic alias 0":                  "3008" + "00017a" + "03" + "230000" + "70",
		"no topic and no alias":          "3003" + "0000" + "00",
		"receive maximum 0":              "2006" + "0000" + "03" + "210000",
		"bytes after connack properties": "2004" + "0000" + "00" + "ff",
		"suback qos 3":                   "9004" + "0001" + "00" + "03",
		"suback without codes":           "9003" + "0001" + "00",
		"auth":                           "f000",
		"truncated user property":        "3009" + "00017a" + "05" + "2600016b00",
		"property length 5 bytes":        "3008" + "00017a" + "ffffffff7f",
	}
	for name, h := range tests {
		b, _ := hex.DecodeString(h)
		first, body := b[0], b[2:]
		_, err := decode5(first, body)
		var pe ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: decode5(%s) = %v, want a ProtocolError", name, h, err)
		}
	}
}

func TestReasonCodeError(t *testing.T) {
	e := ReasonCodeError{Packet: typeConnack, Code: 0x87, Reason: "no"}
	if got, want := e.Error(), `mqtt: CONNACK 0x87 not authorized: "no"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := e.Kind(), "mqtt_reason_0x87_not_authorized"; got != want {
		t.Errorf("Kind() = %q, want %q", got, want)
	}
	if got, want := ReasonLabel(0x10), "mqtt_reason_0x10_no_matching_subscribers"; got != want {
		t.Errorf("ReasonLabel(0x10) = %q, want %q", got, want)
	}
	if got, want := ReasonLabel(0xfe), "mqtt_reason_0xfe_unknown"; got != want {
		t.Errorf("ReasonLabel(0xfe) = %q, want %q", got, want)
	}
	var rc ReasonCodeError
	if err := error(SubackError{Topic: "x", Code: 0x87, v5: true}); !errors.As(err, &rc) || rc.Code != 0x87 || rc.Packet != typeSuback {
		t.Errorf("SubackError does not unwrap to its ReasonCodeError: %+v", rc)
	}
	if err := error(SubackError{Topic: "x", Code: 0x80}); errors.As(err, &rc) {
		t.Errorf("an MQTT 3.1.1 SubackError unwraps to %+v, want nothing", rc)
	}
}

func TestOutgoingAliases(t *testing.T) {
	v := newV5State(&V5Options{TopicAliases: 2})
	v.connack(&props5{aliasMax: 5, maxQoS: 2})
	steps := []struct {
		topic string
		alias uint16
		fresh bool
	}{{"a", 1, true}, {"a", 1, true}, {"b", 2, true}, {"a", 1, false}, {"c", 0, false}, {"b", 2, false}}
	for i, st := range steps {
		a, fresh := v.alias(st.topic)
		if a != st.alias || fresh != st.fresh {
			t.Errorf("step %d: alias(%q) = %d, %v; want %d, %v", i, st.topic, a, fresh, st.alias, st.fresh)
		}
		if fresh && i != 0 { // the first "a" is not committed, as after a refused write
			v.aliases = append(v.aliases, st.topic)
		}
	}
}
