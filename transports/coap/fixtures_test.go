package coap

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// fixture is one message on the wire and what it decodes to. The table
// is shared by the codec tests and the session tests, whose fake servers
// answer with these bytes.
type fixture struct {
	name string
	hex  string // spaces are ignored
	msg  Message
}

func (f fixture) wire(t testing.TB) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(f.hex, " ", ""))
	if err != nil {
		t.Fatalf("fixture %s: %v", f.name, err)
	}
	return b
}

func opt(id OptionID, v string) Option { return Option{ID: id, Value: []byte(v)} }

var temperature = opt(URIPath, "temperature")

// fixtures are valid messages. The first seven are the flows of RFC 7252
// Appendix A (Figures 16-18 and 20: a piggybacked response, a separate
// one, a reset, a non-confirmable request), byte for byte.
var fixtures = []fixture{
	{"A.1 CON GET /temperature", "40 01 7d34 bb 74656d7065726174757265",
		Message{Type: Confirmable, Code: GET, MessageID: 0x7d34, Options: []Option{temperature}}},
	{"A.1 piggybacked 2.05", "60 45 7d34 ff 32322e332043",
		Message{Type: Acknowledgement, Code: Content, MessageID: 0x7d34, Payload: []byte("22.3 C")}},
	{"A.2 CON GET with token", "41 01 7a10 73 bb 74656d7065726174757265",
		Message{Type: Confirmable, Code: GET, MessageID: 0x7a10, Token: []byte{0x73}, Options: []Option{temperature}}},
	{"A.2 empty ACK", "60 00 7a10",
		Message{Type: Acknowledgement, Code: Empty, MessageID: 0x7a10}},
	{"A.2 separate CON 2.05", "41 45 23bb 73 ff 32322e352043",
		Message{Type: Confirmable, Code: Content, MessageID: 0x23bb, Token: []byte{0x73}, Payload: []byte("22.5 C")}},
	{"A.2 ACK of the separate response", "60 00 23bb",
		Message{Type: Acknowledgement, Code: Empty, MessageID: 0x23bb}},
	{"A.3 RST", "70 00 7a10",
		Message{Type: Reset, Code: Empty, MessageID: 0x7a10}},
	{"A.4 NON GET", "51 01 7a11 74 bb 74656d7065726174757265",
		Message{Type: NonConfirmable, Code: GET, MessageID: 0x7a11, Token: []byte{0x74}, Options: []Option{temperature}}},
	{"A.4 NON 2.05", "51 45 23bc 74 ff 32322e352043",
		Message{Type: NonConfirmable, Code: Content, MessageID: 0x23bc, Token: []byte{0x74}, Payload: []byte("22.5 C")}},
	{"ping (empty CON)", "40 00 1234",
		Message{Type: Confirmable, Code: Empty, MessageID: 0x1234}},
	{"observe register (RFC 7641)", "44 01 0001 01020304 60 54 74696d65",
		Message{Type: Confirmable, Code: GET, MessageID: 1, Token: []byte{1, 2, 3, 4},
			Options: []Option{{ID: Observe, Value: []byte{}}, opt(URIPath, "time")}}},
	{"block2 response with size2 (RFC 7959)", "61 45 0002 aa c0 b1 1e 52 0800 ff 78",
		Message{Type: Acknowledgement, Code: Content, MessageID: 2, Token: []byte{0xaa},
			Options: []Option{{ID: ContentFormat, Value: []byte{}}, {ID: Block2, Value: []byte{0x1e}}, {ID: Size2, Value: []byte{8, 0}}},
			Payload: []byte("x")}},
	{"block1 request with size1, one-byte delta extension", "41 02 0003 bb b2 6677 d1 03 0a d2 14 012c ff 616263",
		Message{Type: Confirmable, Code: POST, MessageID: 3, Token: []byte{0xbb},
			Options: []Option{opt(URIPath, "fw"), {ID: Block1, Value: []byte{0x0a}}, {ID: Size1, Value: []byte{1, 0x2c}}},
			Payload: []byte("abc")}},
	{"8-byte token, repeated Uri-Path, Content-Format, Uri-Query", "48 03 0004 0102030405060708 b1 61 01 62 11 32 33 783d31 ff 7b7d",
		Message{Type: Confirmable, Code: PUT, MessageID: 4, Token: []byte{1, 2, 3, 4, 5, 6, 7, 8},
			Options: []Option{opt(URIPath, "a"), opt(URIPath, "b"), {ID: ContentFormat, Value: []byte{JSON}}, opt(URIQuery, "x=1")},
			Payload: []byte("{}")}},
	{"two-byte length extension (300-byte Proxy-Uri)", "40 01 0005 de 16 001f " + strings.Repeat("61", 300),
		Message{Type: Confirmable, Code: GET, MessageID: 5, Options: []Option{opt(ProxyURI, strings.Repeat("a", 300))}}},
	{"No-Response (RFC 7967)", "51 02 0006 01 b1 74 d1 ea 1a ff 31",
		Message{Type: NonConfirmable, Code: POST, MessageID: 6, Token: []byte{1},
			Options: []Option{opt(URIPath, "t"), {ID: NoResponse, Value: []byte{26}}}, Payload: []byte("1")}},
	{"two-byte delta extension (option 292)", "40 01 0007 e1 0017 01",
		Message{Type: Confirmable, Code: GET, MessageID: 7, Options: []Option{{ID: 292, Value: []byte{1}}}}},
}

// malformed are message format errors.
var malformed = []struct{ name, hex string }{
	{"short", "400100"},
	{"version 2", "80010000"},
	{"token length 9", "49010000 010203040506070809"},
	{"truncated token", "44010000 0102"},
	{"empty with token", "41000000 aa"},
	{"empty with payload", "40000000 ff01"},
	{"marker without payload", "40010000 ff"},
	{"delta nibble 15", "40010000 f0"},
	{"length nibble 15", "40010000 0f"},
	{"truncated value", "40010000 b4 7465"},
	{"missing delta extension", "40010000 d0"},
	{"missing length extension", "40010000 0e 00"},
	{"option number over 65535", "40010000 e0ffff e0ffff"},
}

func sameMessage(a, b *Message) bool {
	if a.Type != b.Type || a.Code != b.Code || a.MessageID != b.MessageID ||
		!bytes.Equal(a.Token, b.Token) || !bytes.Equal(a.Payload, b.Payload) || len(a.Options) != len(b.Options) {
		return false
	}
	for i := range a.Options {
		if a.Options[i].ID != b.Options[i].ID || !bytes.Equal(a.Options[i].Value, b.Options[i].Value) {
			return false
		}
	}
	return true
}
