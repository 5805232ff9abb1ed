package coap_test

import (
	"net"
	"testing"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
)

func benchRequest() *coap.Message {
	m := request(coap.Confirmable, coap.POST, "/telemetry/device-000123", `{"t":21.5,"h":40}`)
	m.Token = []byte{1, 2, 3, 4}
	m.SetUint(coap.ContentFormat, coap.JSON)
	return m
}

// BenchmarkEncode encodes a telemetry POST into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	m := benchRequest()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode decodes it into a reused Message, as the reader does.
func BenchmarkDecode(b *testing.B) {
	wire, _ := benchRequest().MarshalBinary()
	var m coap.Message
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if err := coap.Decode(wire, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip is one CON POST and its piggybacked 2.05 over
// loopback UDP against the in-process responder, through Start and its
// callback as an engine drives it. The responder keeps no duplicate
// cache, so message ids may wrap (ExchangeLifetime -1).
func BenchmarkRoundTrip(b *testing.B) {
	r := coaptest.StartResponder(b, nil)
	s := dial(b, coap.Options{Addr: r.Addr(), ExchangeLifetime: -1})
	req := benchRequest()
	req.Token = nil
	done := make(chan coap.Result, 1)
	cb := func(r coap.Result) { done <- coap.Result{Err: r.Err} }
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Start(req, cb); err != nil {
			b.Fatal(err)
		}
		if res := <-done; res.Err != nil {
			b.Fatal(res.Err)
		}
	}
	if st := s.Stats(); st.Retransmissions > 0 {
		b.Logf("%d retransmissions", st.Retransmissions)
	}
}

// BenchmarkRoundTripParallel runs round trips on GOMAXPROCS sessions at
// once.
func BenchmarkRoundTripParallel(b *testing.B) {
	r := coaptest.StartResponder(b, nil)
	var counters coap.Counters
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := dial(b, coap.Options{Addr: r.Addr(), ExchangeLifetime: -1, Counters: &counters})
		req := benchRequest()
		req.Token = nil
		done := make(chan coap.Result, 1)
		cb := func(r coap.Result) { done <- coap.Result{Err: r.Err} }
		for pb.Next() {
			if err := s.Start(req, cb); err != nil {
				b.Fatal(err)
			}
			if res := <-done; res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	})
}

// BenchmarkNotification is one non-confirmable notification from a
// server socket on loopback to an Observe callback: the session's cost
// per notification, which must allocate nothing beyond what the callback
// does (here nothing).
func BenchmarkNotification(b *testing.B) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	s := dial(b, coap.Options{Addr: pc.LocalAddr().String(), ExchangeLifetime: -1})
	got := make(chan uint32, 1)
	if _, err := s.Observe(request(coap.Confirmable, coap.GET, "/obs", ""), func(n coap.Notification) { got <- n.Observe }); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, peer, err := pc.ReadFromUDPAddrPort(buf)
	var reg coap.Message
	if err != nil || coap.Decode(buf[:n], &reg) != nil {
		b.Fatalf("registration: %v", err)
	}
	var seq [3]byte
	m := &coap.Message{Type: coap.Acknowledgement, Code: coap.Content, MessageID: reg.MessageID,
		Token: append([]byte(nil), reg.Token...), Options: []coap.Option{{ID: coap.Observe, Value: seq[:]}},
		Payload: []byte(`{"t":21.5}`)}
	send := func(v uint32) {
		seq[0], seq[1], seq[2] = byte(v>>16), byte(v>>8), byte(v)
		out, _ := m.AppendBinary(buf[:0])
		if _, err := pc.WriteToUDPAddrPort(out, peer); err != nil {
			b.Fatal(err)
		}
		<-got
	}
	send(1 << 16)
	m.Type = coap.NonConfirmable
	v := uint32(1<<16 + 1)
	b.ReportAllocs()
	for b.Loop() {
		m.MessageID++
		send(v)
		v++
	}
	b.StopTimer()
	if st := s.Stats(); st.Stale > 0 || st.Notifications != uint64(v-(1<<16+1)) {
		b.Errorf("Stats = %+v", st)
	}
}
