//go:build linux

package coap_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
)

// BenchmarkIdleSessions measures what an idle device costs this process:
// 1,000 sessions, each after one CON exchange with the in-process
// responder, sharing one Counters as a group's devices would.
func BenchmarkIdleSessions(b *testing.B) {
	const n = 1000
	r := coaptest.StartResponder(b, nil)
	ctx := context.Background()
	var counters coap.Counters
	for b.Loop() {
		before := footprint.Take(b)
		ss := make([]*coap.Session, 0, n)
		for i := range n {
			s, err := coap.Dial(ctx, coap.Options{Addr: r.Addr(), Seed: 1, Stream: uint64(i), Counters: &counters})
			if err != nil {
				b.Fatalf("session %d: %v", i, err)
			}
			ss = append(ss, s)
		}
		after := footprint.Take(b)
		after.ReportPer(b, before, n, "session")
		for _, s := range ss {
			s.Close()
		}
	}
}

// BenchmarkIdleDTLSSessions measures what an idle DTLS device costs this
// process: 1,000 PSK sessions with coap-server-gnutls, a separate
// process, so the server's memory is not counted. Once the handshake is
// over the session's own record layer carries it, on its one goroutine:
// pion's conn would keep two more, a third per read, and an 8 KiB
// buffer.
func BenchmarkIdleDTLSSessions(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	var counters coap.Counters
	for b.Loop() {
		// A server per round: closing 1,000 sessions at once overflows its
		// socket's receive buffer, so it keeps a few sessions whose
		// close_notify it never read, and ignores (GnuTLS: "invalid
		// epoch 0") the ClientHello of a later client that the kernel
		// gives one of their ports.
		srv := coaptest.StartServer(b, "gnutls", "-k", testPSKKey, "-h", "m2msim-hint")
		before := footprint.Take(b)
		ss := make([]*coap.Session, 0, n)
		retries := 0
		for i := range n {
			d := &coap.DTLS{Identity: []byte("device-" + strconv.Itoa(i)), Key: []byte(testPSKKey), HandshakeTimeout: 5 * time.Second}
			o := coap.Options{Addr: srv.SecureAddr(), Seed: 1, Stream: uint64(i), Counters: &counters, DTLS: d}
			s, err := coap.Dial(ctx, o)
			if err != nil {
				// About once in 20,000 handshakes pion stalls for seconds.
				retries++
				s, err = coap.Dial(ctx, o)
			}
			if err != nil {
				b.Fatalf("session %d: %v", i, err)
			}
			ss = append(ss, s)
		}
		after := footprint.Take(b)
		b.ReportMetric(float64(retries), "retried-dials")
		after.ReportPer(b, before, n, "session")
		for _, s := range ss {
			s.Close()
		}
		srv.Stop()
	}
}
