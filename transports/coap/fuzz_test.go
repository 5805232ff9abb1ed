package coap

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzDecode feeds arbitrary datagrams to the decoder. It must never
// panic, and every datagram it accepts must encode back to the same bytes
// (the wire encodings of RFC 7252 are unique) and decode to the same
// message again. The corpus is kept in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.wire(f))
	}
	for _, c := range malformed {
		f.Add(fixture{name: c.name, hex: c.hex}.wire(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		if err := Decode(data, &m); err != nil {
			return
		}
		out, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("Decode(%x) = %v, which does not encode: %v", data, &m, err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("Decode(%x) = %v, which encodes to %x", data, &m, out)
		}
		var again Message
		if err := Decode(out, &again); err != nil || !sameMessage(&again, m.Clone()) {
			t.Fatalf("re-decoding %x: %v, %v != %v", out, err, &again, &m)
		}
		_ = m.String()
	})
}

// FuzzParseBlock feeds arbitrary Block option values to ParseBlock. It
// must never panic; a value it accepts encodes (in the fewest bytes) to
// one that parses to the same block, and to the same bytes when it had
// no leading zero byte. The corpus is kept in
// testdata/fuzz/FuzzParseBlock.
func FuzzParseBlock(f *testing.F) {
	for _, v := range [][]byte{nil, {0x0e}, {0x16}, {0x03, 0x12}, {0xff, 0xff, 0xfe}, {0x07}, {0, 0, 0, 0x10}, {0, 0x1d}} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		b, err := ParseBlock(v)
		if err != nil {
			return
		}
		if b.SZX > 6 || b.Num >= 1<<20 || b.Size() < 16 || b.Size() > 1024 {
			t.Fatalf("ParseBlock(%x) = %+v, out of range", v, b)
		}
		enc := appendBlock(nil, b)
		again, err := ParseBlock(enc)
		if err != nil || again != b {
			t.Fatalf("ParseBlock(%x) = %+v, encoded %x, parsed back %+v, %v", v, b, enc, again, err)
		}
		if (len(v) == 0 || v[0] != 0) && !bytes.Equal(enc, v) {
			t.Fatalf("ParseBlock(%x) = %+v, which encodes to %x", v, b, enc)
		}
	})
}

// discardConn is a conn for driving a session's receive path directly:
// what the session writes is dropped.
type discardConn struct{ *fakeConn }

func (*discardConn) Write(b []byte) (int, error) { return len(b), nil }

// FuzzReceive feeds arbitrary datagrams to a session with an
// observation and a download under way, as its reader would: whatever
// the server sends, the session must not panic, and the observation and
// the transfer end at most once. The seeds answer both by their tokens
// (the session's seed fixes them). The corpus is kept in
// testdata/fuzz/FuzzReceive.
func FuzzReceive(f *testing.F) {
	s := newSession(&discardConn{newFakeConn()}, Options{Seed: 1}.withDefaults())
	tok := func(i uint32) []byte { return binary.BigEndian.AppendUint32(nil, s.nextToken+i) }
	mid := s.nextMID
	for _, m := range []*Message{
		notification(Acknowledgement, Content, mid, tok(0), 5, "first"),
		notification(NonConfirmable, Content, 0x10, tok(0), 6, "next"),
		notification(Confirmable, NotFound, 0x11, tok(0), -1, ""),
		func() *Message {
			m := &Message{Type: Acknowledgement, Code: Content, MessageID: mid + 1, Token: tok(1), Payload: make([]byte, 16)}
			m.SetBlock(Block2, Block{More: true, SZX: 0})
			m.SetUint(Size2, 40)
			return m
		}(),
	} {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSession(&discardConn{newFakeConn()}, Options{Seed: 1}.withDefaults())
		defer func() { // stop the timer, close nothing
			s.mu.Lock()
			s.end()
			s.mu.Unlock()
		}()
		var ends, last int
		if _, err := s.Observe(get("/obs"), func(n Notification) {
			if n.Last {
				last++
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.Download(get("/fw"), TransferOptions{MaxBody: 4096}, func(TransferResult) { ends++ }); err != nil {
			t.Fatal(err)
		}
		s.receive(data)
		s.receive(data) // again, as a duplicate
		if last > 1 || ends > 1 {
			t.Fatalf("%d last notifications, %d transfer ends", last, ends)
		}
	})
}
