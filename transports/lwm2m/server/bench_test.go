package server

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// BenchmarkRegister measures the server's handling of one Register
// datagram (decode, validation, registration, answer), for 1,000
// endpoints registering in turn.
func BenchmarkRegister(b *testing.B) {
	s, err := Start("127.0.0.1:0", nil, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 1000
	msgs := make([][]byte, n)
	for i := range msgs {
		m := &coap.Message{Type: coap.Confirmable, Code: coap.POST, Token: []byte{1, 2, 3, 4}}
		m.SetPath("/rd")
		m.AddQuery("ep=bench-" + strconv.Itoa(i))
		m.AddQuery("lt=86400")
		m.AddQuery("lwm2m=1.1")
		m.AddQuery("b=U")
		m.SetUint(coap.ContentFormat, coap.LinkFormat)
		m.Payload = []byte(`</>;rt="oma.lwm2m";ct="110 112 11542",</1/0>,</3/0>,</4/0>,</5/0>,</6/0>,</3303/0>`)
		msgs[i], _ = m.MarshalBinary()
	}
	sink := netip.MustParseAddrPort("127.0.0.1:9")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d := msgs[i%n]
		d[2], d[3] = byte(i>>8), byte(i) // a new message id: not a duplicate
		s.mu.Lock()
		s.receive(d, sink, time.Now())
		s.unlock()
		i++
	}
}
