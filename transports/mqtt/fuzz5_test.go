package mqtt

import (
	"bytes"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2/packets"
)

// FuzzReadPacket5 feeds arbitrary server bytes through an MQTT 5
// session's read path (framing, decoding, topic aliases, dispatch and
// acks). It must never panic, and every packet it accepts that mochi's
// decoder accepts too must decode to the same fields. (mochi also
// rejects invalid UTF-8, which the session passes through.)
func FuzzReadPacket5(f *testing.F) {
	for name := range Wire5 {
		f.Add(wire5(f, name), uint8(3))
	}
	f.Add(append(wire5(f, "publish alias set"), wire5(f, "publish alias used")...), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		compareWithMochi(t, data, int(chunk))
		conn := &fakeConn{r: bytes.NewReader(data), chunk: int(chunk)}
		s := &Session{conn: conn, h: nopHandler{}, timeout: time.Second, sendBuf: defaultSendBuffer,
			done: make(chan struct{}), v5: newV5State(&V5Options{TopicAliases: 4})}
		if chunk%2 == 1 {
			s.bk = &backendSide{onSuback: func(uint16, []byte) {}, in: &clockReader{r: conn},
				onMessage: func(topic, _ []byte, _ time.Time) {
					if len(topic) == 0 {
						t.Fatal("message without a topic")
					}
				}}
			s.rd.big = true
		}
		s.readLoop()
		if s.state.Load() != stateLost {
			t.Fatalf("readLoop(%x) ended in state %d, want lost at the end of input", data, s.state.Load())
		}
	})
}

func compareWithMochi(t *testing.T, data []byte, chunk int) {
	var r reader
	src := &fakeConn{r: bytes.NewReader(data), chunk: chunk}
	for {
		first, body, err := r.next(src)
		if err != nil {
			return
		}
		p, err := decode5(first, body)
		if err != nil {
			return
		}
		mp := mochi.Packet{ProtocolVersion: 5}
		if mp.FixedHeader.Decode(first) != nil {
			t.Fatalf("decode5 accepted first byte %02x, mochi does not", first)
		}
		mp.FixedHeader.Remaining = len(body)
		if !mochiDecode(&mp, body) {
			continue
		}
		sameAsMochi(t, &p, &mp)
	}
}

// mochiDecode decodes body with mochi, reporting whether it accepted it.
func mochiDecode(mp *mochi.Packet, body []byte) bool {
	var err error
	switch mp.FixedHeader.Type {
	case mochi.Connack:
		err = mp.ConnackDecode(body)
	case mochi.Publish:
		err = mp.PublishDecode(body)
	case mochi.Puback:
		err = mp.PubackDecode(body)
	case mochi.Pubrec:
		err = mp.PubrecDecode(body)
	case mochi.Pubrel:
		err = mp.PubrelDecode(body)
	case mochi.Pubcomp:
		err = mp.PubcompDecode(body)
	case mochi.Suback:
		err = mp.SubackDecode(body)
	case mochi.Disconnect:
		err = mp.DisconnectDecode(body)
	default:
		return false
	}
	return err == nil
}

func sameAsMochi(t *testing.T, p *packet, mp *mochi.Packet) {
	t.Helper()
	ok := true
	switch p.typ {
	case typePublish:
		ok = mp.TopicName == string(p.topic) && bytes.Equal(mp.Payload, p.payload) && mp.PacketID == p.id &&
			mp.Properties.TopicAlias == p.props.alias && mp.FixedHeader.Qos == p.qos()
	case typePuback, typePubrec, typePubrel, typePubcomp:
		ok = mp.PacketID == p.id && mp.ReasonCode == p.code
	case typeConnack:
		ok = mp.ReasonCode == p.code && (p.props.receiveMax == 0 || mp.Properties.ReceiveMaximum == p.props.receiveMax) &&
			mp.Properties.TopicAliasMaximum == p.props.aliasMax
	case typeSuback:
		ok = mp.PacketID == p.id && bytes.Equal(mp.ReasonCodes, p.codes)
	}
	if !ok {
		t.Fatalf("decode5 = %+v, mochi = %+v", *p, *mp)
	}
}
