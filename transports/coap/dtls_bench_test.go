package coap_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v2"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
	dialer "github.com/m2msim/m2msim/transports/dial"
)

// pionPSKServer is the in-process server config the handshake benchmarks
// share: PSK with LwM2M's suite, no resumption.
func pionPSKServer() *dtls.Config {
	return &dtls.Config{
		PSK:                 func([]byte) ([]byte, error) { return []byte(testPSKKey), nil },
		PSKIdentityHint:     []byte("m2msim-hint"),
		CipherSuites:        []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8},
		ConnectContextMaker: handshakeContext,
	}
}

// handshaker makes one DTLS connection over a socket from dial and
// closes it.
type handshaker func(ctx context.Context, dial dialer.Func, addr string) error

// viaDial handshakes through coap.Dial: a session, its reader, Close.
func viaDial(ctx context.Context, dial dialer.Func, addr string) error {
	s, err := coap.Dial(ctx, coap.Options{Addr: addr, Dial: dial, DTLS: pskDTLS()})
	if err != nil {
		return err
	}
	return s.Close()
}

// bare handshakes with pion/dtls/v2 alone, as its own examples do, but
// for the handshake timeout coap.Dial also has.
func bare(ctx context.Context, dial dialer.Func, addr string) error {
	conn, err := dial(ctx, "udp", addr)
	if err != nil {
		return err
	}
	cfg := &dtls.Config{
		PSK:             func([]byte) ([]byte, error) { return []byte(testPSKKey), nil },
		PSKIdentityHint: []byte(testPSKIdentity),
		CipherSuites:    []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8},
	}
	hctx, cancel := context.WithTimeout(ctx, coap.DefaultHandshakeTimeout)
	defer cancel()
	dc, err := dtls.ClientWithContext(hctx, conn, cfg)
	if err != nil {
		conn.Close()
		return err
	}
	return dc.Close()
}

// freshPorts dials UDP sockets whose ports r does not still hold (see
// DTLSResponder.Holds).
func freshPorts(r *coaptest.DTLSResponder) dialer.Func {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		for {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil || !r.Holds(c.LocalAddr().String()) {
				return c, err
			}
			c.Close()
		}
	}
}

// BenchmarkDTLSHandshake compares PSK handshakes (and close_notify)
// through coap.Dial with a bare pion/dtls/v2 client loop, against one
// in-process pion listener, which handshakes one client at a time:
// serially from one goroutine, and from 4 per core at once.
func BenchmarkDTLSHandshake(b *testing.B) {
	r := coaptest.StartDTLSResponder(b, pionPSKServer(), nil)
	fresh := freshPorts(r)
	for _, c := range []struct {
		name string
		h    handshaker
	}{{"coap.Dial", viaDial}, {"pion", bare}} {
		b.Run(c.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			n, start := 0, time.Now()
			for b.Loop() {
				if err := c.h(ctx, fresh, r.Addr()); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "handshakes/s")
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			var n atomic.Int64
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if err := c.h(ctx, fresh, r.Addr()); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			})
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "handshakes/s")
		})
	}
}

// BenchmarkCAIssue issues one device certificate: an ECDSA P-256 key and
// a certificate signed by the CA.
func BenchmarkCAIssue(b *testing.B) {
	ca := newCA(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.Issue("urn:dev:m2msim-000001"); err != nil {
			b.Fatal(err)
		}
	}
}
