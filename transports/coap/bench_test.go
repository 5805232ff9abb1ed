package coap_test

import (
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
