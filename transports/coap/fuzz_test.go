package coap

import (
	"bytes"
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
