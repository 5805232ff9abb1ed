package server_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/server"
)

// BenchmarkServerGET measures the server alone: clients on their own
// sockets keep a window of confirmable GETs of a 2.05 resource in
// flight (a new request as each answer comes), so the server, not a
// round trip, sets the pace. It reports requests per second; allocations
// are the process's, clients included.
func BenchmarkServerGET(b *testing.B) {
	srv := start(b, server.Config{ExchangeLifetime: time.Second})
	srv.Put("/sensors/temp", []byte(`{"t":21.5}`))
	const window = 32
	var total atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(2)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("udp", srv.Addr())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		m := req(coap.Confirmable, coap.GET, "/sensors/temp", "")
		m.Token = []byte{1, 2, 3, 4}
		out, in := make([]byte, 0, 64), make([]byte, 256)
		send := func() {
			m.MessageID++
			out, _ = m.AppendBinary(out[:0])
			c.Write(out)
		}
		inflight := 0
		for inflight < window && pb.Next() {
			send()
			inflight++
		}
		for inflight > 0 {
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(in); err != nil {
				// A datagram lost in a socket buffer: send another in its place.
				inflight--
			} else {
				inflight--
				total.Add(1)
			}
			if pb.Next() {
				send()
				inflight++
			}
		}
	})
	b.ReportMetric(float64(total.Load())/time.Since(start).Seconds(), "req/s")
	if st := srv.Stats(); st.Dropped > 0 {
		b.Logf("%d datagrams dropped at the server", st.Dropped)
	}
}

// BenchmarkServerSessions measures what a fleet sees: 64 sessions (each
// its own socket, NSTART 1) doing CON GET round trips through
// coap.Session against the server. It reports requests per second.
func BenchmarkServerSessions(b *testing.B) {
	srv := start(b, server.Config{ExchangeLifetime: time.Second})
	srv.Put("/sensors/temp", []byte(`{"t":21.5}`))
	var counters coap.Counters
	sessions := make(chan *coap.Session, 64)
	for i := range cap(sessions) {
		sessions <- dial(b, srv.Addr(), coap.Options{Seed: 5, Stream: uint64(i), Counters: &counters, ExchangeLifetime: -1})
	}
	b.ReportAllocs()
	b.SetParallelism(32)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		s := <-sessions
		m := req(coap.Confirmable, coap.GET, "/sensors/temp", "")
		for pb.Next() {
			if _, err := s.Do(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(counters.Snapshot().Codes[coap.Content])/time.Since(start).Seconds(), "req/s")
}
