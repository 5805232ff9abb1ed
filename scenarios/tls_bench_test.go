package scenarios

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/pki"
)

// BenchmarkTLSDeviceState prices what a device keeps between its TLS
// connections: its client certificate and key, issued at its first
// handshake, and its session ticket. Each of 1,000 devices handshakes
// once with an in-process TLS 1.3 server that asks for certificates and
// disconnects; what stays is measured per device.
func BenchmarkTLSDeviceState(b *testing.B) {
	const n = 1000
	ca, err := pki.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	addr := benchTLSServer(b, ca)
	var lazy lazyCA
	lazy.ca = ca
	lazy.once.Do(func() {})
	for b.Loop() {
		before := footprint.Take(b)
		cfg := &TLS{ClientCertificates: true}
		cfg.withDefaults(func(string) bool { return false })
		g, err := cfg.prepare(n, &lazy, func(dev int) sim.Vars { return sim.Vars{ID: "dev", Device: dev} })
		if err != nil {
			b.Fatal(err)
		}
		g.roots = ca.Pool()
		for dev := range n {
			if err := handshakeOnce(g, dev, addr); err != nil {
				b.Fatalf("device %d: %v", dev, err)
			}
		}
		after := footprint.Take(b)
		after.ReportPer(b, before, n, "device")
		last := g.device(n - 1)
		if _, ok := last.sessions.Get("127.0.0.1"); last.cert == nil || !ok {
			b.Fatal("no certificate or session ticket kept")
		}
	}
}

// handshakeOnce connects device dev of g, reads the server's byte (which
// brings the session ticket in) and disconnects.
func handshakeOnce(g *tlsGroup, dev int, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial.TLS(nil, g.options(dev, nil))(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

// benchTLSServer serves TLS on a loopback port, requiring a certificate
// from ca: one byte to each client, then it waits for the client to go.
func benchTLSServer(b *testing.B, ca *pki.CA) string {
	cert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write([]byte{1}); err == nil {
					io.Copy(io.Discard, c)
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}
