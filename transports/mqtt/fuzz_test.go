package mqtt

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// fakeConn is a net.Conn that reads from r in chunks of at most chunk
// bytes (to exercise reassembly) and discards writes.
type fakeConn struct {
	r      io.Reader
	chunk  int
	writes int
}

func (c *fakeConn) Read(b []byte) (int, error) {
	if c.r == nil {
		return 0, io.EOF
	}
	if c.chunk > 0 && len(b) > c.chunk {
		b = b[:c.chunk]
	}
	return c.r.Read(b)
}
func (c *fakeConn) Write(b []byte) (int, error)      { c.writes++; return len(b), nil }
func (c *fakeConn) TryWrite(b []byte) (int, error)   { return c.Write(b) }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadPacket feeds arbitrary server bytes through the session's read
// path (framing, decoding, dispatch and acks). It must never panic, and
// every packet it accepts must decode the same way with paho's codec.
func FuzzReadPacket(f *testing.F) {
	for _, fx := range publishFixtures {
		b, _ := hex.DecodeString(fx.hex)
		f.Add(b, uint8(3))
	}
	for _, fx := range ackFixtures {
		b, _ := hex.DecodeString(fx.hex)
		f.Add(b, uint8(1))
	}
	for _, h := range []string{"20020000", "d000", "9005000a000180", "3405000161000762", "30ffffff7f", "3001ff"} {
		b, _ := hex.DecodeString(h)
		f.Add(b, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		compareWithPaho(t, data, int(chunk))
		conn := &fakeConn{r: bytes.NewReader(data), chunk: int(chunk)}
		s := &Session{conn: conn, h: nopHandler{}, timeout: time.Second, sendBuf: defaultSendBuffer,
			done: make(chan struct{})}
		if chunk%2 == 1 { // as a Backend's connection
			s.bk = &backendSide{onSuback: func(uint16, []byte) {}, in: &clockReader{r: conn},
				onMessage: func(_, _ []byte, at time.Time) {
					if at.IsZero() {
						t.Fatal("message without an arrival time")
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

func compareWithPaho(t *testing.T, data []byte, chunk int) {
	var r reader
	src := &fakeConn{r: bytes.NewReader(data), chunk: chunk}
	for {
		first, body, err := r.next(src)
		if err != nil {
			return
		}
		p, err := decode(first, body)
		if err != nil {
			return
		}
		wire := append([]byte{first}, appendLength(nil, len(body))...)
		cp, err := packets.ReadPacket(bytes.NewReader(append(wire, body...)))
		if err != nil {
			t.Fatalf("decode accepted %x%x but paho says %v", wire, body, err)
		}
		samePacket(t, p, cp)
	}
}

func samePacket(t *testing.T, p packet, cp packets.ControlPacket) {
	t.Helper()
	var id uint16
	var ok bool
	switch c := cp.(type) {
	case *packets.PublishPacket:
		id = c.MessageID
		ok = c.TopicName == string(p.topic) && bytes.Equal(c.Payload, p.payload) &&
			c.Qos == p.qos() && c.Retain == (p.flags&1 == 1) && c.Dup == (p.flags&8 == 8)
	case *packets.ConnackPacket:
		ok = c.ReturnCode == p.code
	case *packets.SubackPacket:
		id, ok = c.MessageID, bytes.Equal(c.ReturnCodes, p.codes)
	case *packets.PubackPacket:
		id, ok = c.MessageID, true
	case *packets.PubrecPacket:
		id, ok = c.MessageID, true
	case *packets.PubrelPacket:
		id, ok = c.MessageID, true
	case *packets.PubcompPacket:
		id, ok = c.MessageID, true
	case *packets.UnsubackPacket:
		id, ok = c.MessageID, true
	case *packets.PingrespPacket, *packets.DisconnectPacket:
		ok = true
	}
	if !ok || id != p.id || cp.Details().Qos != p.qos() && p.typ == typePublish {
		t.Fatalf("decode = %+v, paho = %v", p, cp)
	}
}
