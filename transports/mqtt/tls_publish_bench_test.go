package mqtt

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/pki"
)

// BenchmarkPublishSparse is one device's report at a time, as a fleet
// reporting every few seconds sends them: each QoS 1 PUBLISH is written
// out before the next. Over TCP the session writes it at once; over TLS
// (no non-blocking write) it starts the session's flusher goroutine,
// which encrypts and writes it. cpu-ns/op is this process's CPU per
// publish, the draining server's included.
func BenchmarkPublishSparse(b *testing.B) {
	ca, err := pki.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	cert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	for _, secure := range []bool{false, true} {
		name := "tcp"
		if secure {
			name = "tls"
		}
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			if secure {
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
			}
			go func() {
				c, err := ln.Accept()
				if err == nil {
					io.Copy(io.Discard, c)
					c.Close()
				}
			}()
			d := dial.Func((&net.Dialer{}).DialContext)
			if secure {
				d = dial.TLS(d, dial.TLSOptions{Config: &tls.Config{RootCAs: ca.Pool()}})
			}
			ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
			conn, err := d(ctx, "tcp", ln.Addr().String())
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			s := benchSession(conn)
			b.ReportAllocs()
			cpu := cpuTime()
			for i := 0; b.Loop(); i++ {
				if err := s.Publish(uint16(i%0xffff+1), benchTopic, benchPayload, 1, false); err != nil {
					b.Fatal(err)
				}
				s.wmu.Lock()
				bl := s.bl
				s.wmu.Unlock()
				if bl != nil {
					<-bl.done
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
