package coap

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeFixtures(t *testing.T) {
	for _, f := range fixtures {
		var m Message
		if err := Decode(f.wire(t), &m); err != nil {
			t.Errorf("%s: Decode(%s) = %v", f.name, f.hex, err)
			continue
		}
		if !sameMessage(&m, &f.msg) {
			t.Errorf("%s: Decode(%s) = %v, want %v", f.name, f.hex, &m, &f.msg)
		}
	}
}

func TestEncodeFixtures(t *testing.T) {
	for _, f := range fixtures {
		got, err := f.msg.MarshalBinary()
		if want := f.wire(t); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: MarshalBinary(%v) = %x, %v; want %x", f.name, &f.msg, got, err, want)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, c := range malformed {
		var m Message
		err := Decode(fixture{name: c.name, hex: c.hex}.wire(t), &m)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: Decode(%s) = %v, want a *FormatError", c.name, c.hex, err)
		}
	}
}

// TestEncodeSortsOptions checks that options given out of order are
// encoded by number, stably, without changing the message.
func TestEncodeSortsOptions(t *testing.T) {
	f := fixtures[13] // Uri-Path a, b; Content-Format; Uri-Query
	m := f.msg
	m.Options = []Option{opt(URIQuery, "x=1"), opt(URIPath, "a"), {ID: ContentFormat, Value: []byte{JSON}}, opt(URIPath, "b")}
	got, err := m.MarshalBinary()
	if want := f.wire(t); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("MarshalBinary = %x, %v; want %x", got, err, want)
	}
	if m.Options[0].ID != URIQuery {
		t.Errorf("MarshalBinary reordered the caller's options: %v", m.Options)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, m := range []Message{
		{Code: GET, Token: make([]byte, 9)},
		{Code: Empty, Token: []byte{1}},
		{Code: Empty, Payload: []byte{1}},
		{Code: GET, Type: 4},
		{Code: GET, Options: []Option{{ID: ProxyURI, Value: make([]byte, maxOptionValue+1)}}},
	} {
		var fe *FormatError
		if _, err := m.MarshalBinary(); !errors.As(err, &fe) {
			t.Errorf("MarshalBinary(%v) = %v, want a *FormatError", &m, err)
		}
	}
}

func TestCodeString(t *testing.T) {
	for c, want := range map[Code]string{GET: "0.01", Content: "2.05", NotFound: "4.04", ServiceUnavailable: "5.03",
		Continue: "2.31", Empty: "0.00", NewCode(7, 31): "7.31"} {
		if got := c.String(); got != want {
			t.Errorf("Code(%#x).String() = %q, want %q", uint8(c), got, want)
		}
	}
	if !GET.IsRequest() || Empty.IsRequest() || Content.IsRequest() || !NotFound.IsResponse() || NewCode(3, 0).IsResponse() {
		t.Error("IsRequest/IsResponse misclassify")
	}
}

func TestOptionHelpers(t *testing.T) {
	m := Message{Code: GET}
	m.SetPath("/a/b/")
	m.AddQuery("ep=dev1")
	m.SetUint(ContentFormat, LwM2MTLV)
	m.SetUint(Observe, 0)
	m.AddQuery("lt=300")
	m.SetBlock(Block2, Block{Num: 5, More: true, SZX: 6})
	if got := m.Path(); got != "/a/b/" {
		t.Errorf("Path() = %q, want /a/b/", got)
	}
	if got := m.Query(); got != "ep=dev1&lt=300" {
		t.Errorf("Query() = %q", got)
	}
	if v, ok := m.Uint(ContentFormat); !ok || v != LwM2MTLV {
		t.Errorf("Uint(ContentFormat) = %d, %v", v, ok)
	}
	if v, ok := m.Option(Observe); !ok || len(v) != 0 {
		t.Errorf("Observe 0 must be an empty value, got %x, %v", v, ok)
	}
	if b, ok := m.Block(Block2); !ok || b != (Block{Num: 5, More: true, SZX: 6}) || b.Size() != 1024 {
		t.Errorf("Block(Block2) = %+v, %v", b, ok)
	}
	for i := 1; i < len(m.Options); i++ {
		if m.Options[i-1].ID > m.Options[i].ID {
			t.Fatalf("options out of order: %v", m.Options)
		}
	}
	m.SetPath("/")
	if _, ok := m.Option(URIPath); ok || m.Path() != "/" {
		t.Errorf("SetPath(/) left %v", m.Options)
	}
	var d Message
	b, _ := m.MarshalBinary()
	if err := Decode(b, &d); err != nil || !sameMessage(&d, &m) {
		t.Errorf("round trip: %v, %v != %v", err, &d, &m)
	}
}

func TestClone(t *testing.T) {
	f := fixtures[13]
	var m Message
	wire := f.wire(t)
	Decode(wire, &m)
	c := m.Clone()
	clear(wire)
	if !sameMessage(c, &f.msg) {
		t.Errorf("Clone aliases the datagram: %v", c)
	}
}
