package mqtt

import (
	"testing"
	"time"
)

// benchV5 are typical MQTT 5 device settings: a topic alias, a message
// expiry and one user property on every PUBLISH.
var benchV5 = V5Options{TopicAliases: 4, MessageExpiry: time.Minute,
	UserProperties: []UserProperty{{Key: "fleet", Value: "m2msim"}}}

// BenchmarkMessage is a device's whole work per QoS 1 message, MQTT
// 3.1.1 and MQTT 5 side by side: encode and write the PUBLISH (to a conn
// that discards), then frame, decode and dispatch its PUBACK.
func BenchmarkMessage(b *testing.B) {
	for _, v := range []struct {
		name string
		v5   bool
	}{{"v3.1.1", false}, {"v5", true}} {
		b.Run(v.name, func(b *testing.B) {
			s := benchSession(&fakeConn{r: &loopReader{data: []byte{0x40, 2, 0, 7}}})
			if v.v5 {
				s.v5 = newV5State(&benchV5)
				s.v5.connack(&props5{aliasMax: 10, maxQoS: 2, receiveMax: 20})
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(benchPayload)))
			for b.Loop() {
				if err := s.Publish(7, benchTopic, benchPayload, 1, false); err != nil {
					b.Fatal(err)
				}
				p, err := s.readPacket()
				if err != nil {
					b.Fatal(err)
				}
				if err := s.dispatch(&p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode5 frames and decodes an MQTT 5 PUBLISH (through a topic
// alias, with a message expiry) and a PUBACK.
func BenchmarkDecode5(b *testing.B) {
	props := publishProps(&benchV5)
	wires := map[string][]byte{
		"puback":  {0x40, 2, 0, 7},
		"publish": appendPublish5(nil, 7, "", 1, props, benchPayload, 1, false),
	}
	for name, wire := range wires {
		b.Run(name, func(b *testing.B) {
			var r reader
			src := &loopReader{data: wire}
			b.ReportAllocs()
			for b.Loop() {
				first, body, err := r.next(src)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := decode5(first, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
