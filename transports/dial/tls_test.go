package dial_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/tcptest"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/pki"
)

// tlsServer serves TLS on a loopback port: each connection gets one
// byte, then is read until the client goes.
func tlsServer(t *testing.T, ca *pki.CA, clientAuth tls.ClientAuthType, maxVersion uint16) string {
	t.Helper()
	cert, err := ca.IssueServer("127.0.0.1", "broker.test")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: clientAuth, ClientCAs: ca.Pool(), MaxVersion: maxVersion})
	if err != nil {
		t.Fatal(err)
	}
	tcptest.Serve(t, ln, func(c net.Conn) {
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte{1}); err != nil {
				return
			}
			io.Copy(io.Discard, c)
		}()
	})
	return ln.Addr().String()
}

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// dialRead dials through TLS and reads the server's byte, which also
// takes in a TLS 1.3 ticket or the server's verdict on our certificate.
func dialRead(t *testing.T, addr string, o dial.TLSOptions) error {
	t.Helper()
	var d net.Dialer
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := dial.TLS(d.DialContext, o)(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

func TestTLSResumes(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		ca := newCA(t)
		addr := tlsServer(t, ca, tls.RequireAndVerifyClientCert, v)
		cert, err := ca.Issue("dev-1")
		if err != nil {
			t.Fatal(err)
		}
		var got []dial.TLSHandshake
		o := dial.TLSOptions{
			Config: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cert},
				ClientSessionCache: new(dial.SessionCache)},
			Handshook: func(h dial.TLSHandshake) { got = append(got, h) },
		}
		for range 2 {
			if err := dialRead(t, addr, o); err != nil {
				t.Fatalf("version %x: %v", v, err)
			}
		}
		if len(got) != 2 || got[0].Resumed || !got[1].Resumed || got[1].Version != v || got[0].Duration <= 0 {
			t.Errorf("version %x: handshakes %+v, want a full one then a resumed one", v, got)
		}
	}
}

func TestTLSErrors(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	addr := tlsServer(t, ca, tls.RequireAndVerifyClientCert, 0)
	cert, err := ca.Issue("dev-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		cfg    *tls.Config
		reason string
	}{
		{"wrong CA", &tls.Config{RootCAs: other.Pool(), Certificates: []tls.Certificate{cert}}, dial.ReasonUnknownCA},
		{"no client certificate", &tls.Config{RootCAs: ca.Pool()}, dial.ReasonCertMissing},
		{"other host", &tls.Config{RootCAs: ca.Pool(), ServerName: "elsewhere.test", Certificates: []tls.Certificate{cert}}, dial.ReasonHostname},
	} {
		err := dialRead(t, addr, dial.TLSOptions{Config: tc.cfg})
		var te *dial.TLSError
		if !errors.As(err, &te) || te.Reason != tc.reason {
			t.Errorf("%s: error %v, want a TLSError %s", tc.name, err, tc.reason)
		}
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts, then never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	err = dialRead(t, ln.Addr().String(), dial.TLSOptions{Config: &tls.Config{InsecureSkipVerify: true}, Timeout: 200 * time.Millisecond})
	var te *dial.TLSError
	if !errors.As(err, &te) || te.Reason != dial.ReasonTimeout {
		t.Errorf("error %v, want a TLSError %s", err, dial.ReasonTimeout)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timed out after %v, want about 200ms", d)
	}
}

// With TLS 1.3 a server refuses a client certificate after the client's
// handshake is done, with an alert, then closes. A client that writes
// before it reads gets a reset: the write reports the alert instead.
func TestTLSRefusalSeenByWrite(t *testing.T) {
	ca := newCA(t)
	cert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.(*tls.Conn).Handshake() // fails: no certificate; the alert goes out
		c.Close()
	}()
	var d net.Dialer
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := dial.TLS(d.DialContext, dial.TLSOptions{Config: &tls.Config{RootCAs: ca.Pool()}})(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v (the client's side of a TLS 1.3 handshake completes)", err)
	}
	defer c.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not close")
	}
	var werr error
	for i := 0; i < 100 && werr == nil; i++ { // the first writes go out; the server's reset fails a later one
		_, werr = c.Write([]byte("CONNECT"))
		time.Sleep(time.Millisecond)
	}
	var te *dial.TLSError
	if !errors.As(werr, &te) || te.Reason != dial.ReasonCertMissing {
		t.Errorf("write after the refusal: %v, want a TLSError %s", werr, dial.ReasonCertMissing)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.As(err, &te) || te.Reason != dial.ReasonCertMissing {
		t.Errorf("read after the refusal: %v, want a TLSError %s", err, dial.ReasonCertMissing)
	}
}
