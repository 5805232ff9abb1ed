package mqtt

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

const benchTopic = "devices/000123/telemetry"

var benchPayload = bytes.Repeat([]byte{'x'}, 64)

func benchSession(conn net.Conn) *Session {
	return &Session{conn: conn, raw: rawConn(conn), h: nopHandler{}, timeout: 10 * time.Second,
		sendBuf: defaultSendBuffer, done: make(chan struct{})}
}

// BenchmarkPublish is the device hot path: encode a QoS 1 PUBLISH and
// write it under the session's mutex (to a conn that discards).
func BenchmarkPublish(b *testing.B) {
	s := benchSession(&fakeConn{})
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for i := 0; b.Loop(); i++ {
		if err := s.Publish(uint16(i%0xffff+1), benchTopic, benchPayload, 1, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishPaho is what the same write costs with paho's encoder.
func BenchmarkPublishPaho(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for i := 0; b.Loop(); i++ {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.TopicName, p.Payload, p.Qos, p.MessageID = benchTopic, benchPayload, 1, uint16(i%0xffff+1)
		if err := p.Write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishTCP publishes over loopback TCP to a reader that drains,
// so syscalls are counted. cpu-ns/op is the process's CPU time per
// publish, the draining reader's included.
func BenchmarkPublishTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	s := benchSession(conn)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	cpu := cpuTime()
	for i := 0; b.Loop(); i++ {
		if err := s.Publish(uint16(i%0xffff+1), benchTopic, benchPayload, 1, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// loopReader serves the same bytes over and over.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func inbound() map[string][]byte {
	pub := appendPublish(nil, 7, benchTopic, benchPayload, 1, false)
	return map[string][]byte{"puback": {0x40, 2, 0, 7}, "publish": pub}
}

// BenchmarkDecode frames and decodes inbound packets the session's way.
func BenchmarkDecode(b *testing.B) {
	for name, wire := range inbound() {
		b.Run(name, func(b *testing.B) {
			var r reader
			src := &loopReader{data: wire}
			b.ReportAllocs()
			for b.Loop() {
				first, body, err := r.next(src)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := decode(first, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodePaho is the same with paho's packets.ReadPacket.
func BenchmarkDecodePaho(b *testing.B) {
	for name, wire := range inbound() {
		b.Run(name, func(b *testing.B) {
			src := &loopReader{data: wire}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := packets.ReadPacket(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDispatchAck is the reader's work per PUBACK: frame, decode,
// call Handler.Acked.
func BenchmarkDispatchAck(b *testing.B) {
	s := benchSession(&fakeConn{r: &loopReader{data: []byte{0x40, 2, 0, 7}}})
	b.ReportAllocs()
	for b.Loop() {
		p, err := s.readPacket()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.dispatch(&p); err != nil {
			b.Fatal(err)
		}
	}
}
