package server_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/server"
)

// BenchmarkDTLSHandshakes measures PSK handshakes
// (TLS_PSK_WITH_AES_128_CCM_8) through the server's DTLS listener: 32
// clients at a time each dial, do one GET and close. Full handshakes
// (a cookie exchange included) with at most 1 (serial, as pion's
// Listener.Accept runs them) or 64 at once on the server; then
// abbreviated ones, each client resuming its previous session. Clients
// and server share the process, so the figure is their joint pace on
// this machine; it reports handshakes per second.
func BenchmarkDTLSHandshakes(b *testing.B) {
	for _, c := range []struct {
		name    string
		slots   int
		resumed bool
	}{{"full/MaxHandshakes=1", 1, false}, {"full/MaxHandshakes=64", 64, false}, {"resumed/MaxHandshakes=64", 64, true}} {
		b.Run(c.name, func(b *testing.B) {
			srv := start(b, server.Config{DTLS: &server.DTLSConfig{Key: []byte(testKey), MaxHandshakes: c.slots}})
			srv.Put("/r", []byte("x"))
			var stream atomic.Uint64
			b.SetParallelism(16) // 32 clients on 2 cores
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				d := &coap.DTLS{Identity: []byte("dev"), Key: []byte(testKey)}
				if c.resumed {
					d.Sessions = &coap.SessionCache{}
				}
				for pb.Next() {
					s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: d, Seed: 1, Stream: stream.Add(1)})
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := s.Do(context.Background(), req(coap.Confirmable, coap.GET, "/r", "")); err != nil {
						b.Error(err)
					}
					s.Close()
				}
			})
			st := srv.Stats()
			b.ReportMetric(float64(st.DTLSHandshakes)/time.Since(start).Seconds(), "handshakes/s")
			if c.resumed {
				b.ReportMetric(float64(st.DTLSResumed)/float64(st.DTLSHandshakes), "resumed/handshake")
			}
		})
	}
}

// envClients asks TestHelperDTLSClients to open this many sessions, to
// the address in envAddr.
const envClients, envAddr = "M2MSIM_TEST_DTLS_CLIENTS", "M2MSIM_TEST_DTLS_ADDR"

// TestHelperDTLSClients is BenchmarkIdleDTLSPeers's other process: with
// envClients set it opens that many PSK sessions to envAddr, each after
// one GET, says "ready" and holds them until its stdin closes. Otherwise
// it does nothing.
func TestHelperDTLSClients(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(envClients))
	if n == 0 {
		return
	}
	var ss []*coap.Session
	for i := range n {
		d := &coap.DTLS{Identity: []byte("dev-" + strconv.Itoa(i)), Key: []byte(testKey)}
		s, err := coap.Dial(context.Background(), coap.Options{Addr: os.Getenv(envAddr), DTLS: d, Seed: 1, Stream: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		do(t, s, req(coap.Confirmable, coap.GET, "/r", ""))
		ss = append(ss, s)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	for _, s := range ss {
		s.Close()
	}
}

// BenchmarkIdleDTLSPeers measures what an idle DTLS client costs the
// server: 1,000 PSK sessions, each after one GET, opened by another
// process (this test binary, running TestHelperDTLSClients) so that only
// the server's memory is counted.
func BenchmarkIdleDTLSPeers(b *testing.B) {
	const n = 1000
	srv := start(b, server.Config{DTLS: &server.DTLSConfig{Key: []byte(testKey)}})
	srv.Put("/r", []byte("x"))
	for b.Loop() {
		before := footprint.Take(b)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDTLSClients$", "-test.count=1")
		cmd.Env = append(os.Environ(), envClients+"="+strconv.Itoa(n), envAddr+"="+srv.SecureAddr())
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
			b.Fatalf("helper: %q, %v", line, err)
		}
		eventually(b, 10*time.Second, "sessions", func() bool { return srv.Stats().DTLSSessions == n })
		after := footprint.Take(b)
		after.ReportPer(b, before, n, "peer")
		stdin.Close() // the helper closes its sessions; the close_notify of some may be lost
		cmd.Wait()
	}
}

// BenchmarkDTLSSessions is BenchmarkServerSessions over DTLS: 64 PSK
// sessions doing CON GET round trips. It reports requests per second.
func BenchmarkDTLSSessions(b *testing.B) {
	srv := start(b, server.Config{ExchangeLifetime: time.Second, DTLS: &server.DTLSConfig{Key: []byte(testKey)}})
	srv.Put("/sensors/temp", []byte(`{"t":21.5}`))
	var counters coap.Counters
	sessions := make(chan *coap.Session, 64)
	for i := range cap(sessions) {
		d := &coap.DTLS{Identity: []byte("dev-" + strconv.Itoa(i)), Key: []byte(testKey)}
		sessions <- dial(b, srv.SecureAddr(), coap.Options{Seed: 5, Stream: uint64(i), Counters: &counters, ExchangeLifetime: -1, DTLS: d})
	}
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
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
