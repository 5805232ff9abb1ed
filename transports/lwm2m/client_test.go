package lwm2m

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// registerFixture is the Register request of a queue-mode device, byte
// by byte (Transport §6.4.1, RFC 7252 §3).
var registerFixture = strings.Join([]string{
	"44 02 1234 01020304",           // CON, POST, message id 0x1234, 4-byte token
	"b2 7264",                       // Uri-Path (11) "rd"
	"11 28",                         // Content-Format (12) 40, link format
	"3b 65703d6d326d2d30303031",     // Uri-Query (15) "ep=m2m-0001"
	"06 6c743d333030",               // Uri-Query "lt=300"
	"09 6c776d326d3d312e31",         // Uri-Query "lwm2m=1.1"
	"03 623d55",                     // Uri-Query "b=U"
	"01 51",                         // Uri-Query "Q"
	"ff 3c2f312f303e2c3c2f332f303e", // payload </1/0>,</3/0>
}, " ")

func TestRegisterMessageFixture(t *testing.T) {
	want, err := hex.DecodeString(strings.ReplaceAll(registerFixture, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	r := Registration{Endpoint: "m2m-0001", Lifetime: 300 * time.Second, Queue: true}
	m := r.Register([]Link{{Target: "/1/0"}, {Target: "/3/0"}}).Message()
	m.MessageID, m.Token = 0x1234, []byte{1, 2, 3, 4}
	got, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Register message\n got %x\nwant %x", got, want)
	}
	var back coap.Message
	if err := coap.Decode(want, &back); err != nil || back.Path() != "/rd" || back.Query() != "ep=m2m-0001&lt=300&lwm2m=1.1&b=U&Q" {
		t.Errorf("Decode(fixture) = %v (%v): want POST /rd with the query", &back, err)
	}
}

func TestRequestMessage(t *testing.T) {
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Deregister([]string{"rd", "5a"}), "0.04 /rd/5a"},
		{Registration{Endpoint: "e", Lifetime: time.Minute}.Update([]string{"rd", "5a"}, Registration{Endpoint: "e"}, nil), "0.02 /rd/5a?lt=60"},
	} {
		if got := tc.req.String(); got != tc.want {
			t.Errorf("%v: String() = %q, want %q", tc.req.Path, got, tc.want)
		}
		m := tc.req.Message()
		if m.Type != coap.Confirmable || m.Payload != nil || hasOption(m, coap.ContentFormat) {
			t.Errorf("%s: Message() = %v: want a CON without payload or Content-Format", tc.want, m)
		}
	}
}
