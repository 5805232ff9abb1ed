package coap_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v2"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
	"github.com/m2msim/m2msim/transports/netem"
)

const (
	testPSKIdentity = "m2msim-device-1"
	testPSKKey      = "secretPSK"
)

func pskDTLS() *coap.DTLS {
	return &coap.DTLS{Identity: []byte(testPSKIdentity), Key: []byte(testPSKKey)}
}

// startPSKServer starts libcoap's coap-server-FLAVOUR with DTLS PSK on
// SecureAddr.
func startPSKServer(t testing.TB, flavour string) *coaptest.Server {
	t.Helper()
	return coaptest.StartServer(t, flavour, "-k", testPSKKey, "-h", "m2msim-hint")
}

// exerciseLibcoap does what every secured test session does against
// libcoap: GET /time, POST a new resource and GET it back.
func exerciseLibcoap(t *testing.T, s *coap.Session, path string) {
	t.Helper()
	CON := coap.Confirmable
	if r := do(t, s, request(CON, coap.GET, "/time", ""), coap.Content); len(r.Payload) == 0 {
		t.Error("GET /time: empty payload")
	}
	r := do(t, s, request(CON, coap.POST, path, "over dtls"), coap.Created)
	if loc, ok := r.Option(coap.LocationPath); !ok || "/"+string(loc) != path {
		t.Errorf("POST %s: Location-Path %q, %v", path, loc, ok)
	}
	if r := do(t, s, request(CON, coap.GET, path, ""), coap.Content); string(r.Payload) != "over dtls" {
		t.Errorf("GET %s after POST = %q", path, r.Payload)
	}
}

// TestDTLSPSKLibcoap: a PSK handshake with LwM2M's default suite, then
// CoAP inside DTLS, against both of libcoap's DTLS builds.
func TestDTLSPSKLibcoap(t *testing.T) {
	for _, flavour := range []string{"gnutls", "openssl"} {
		t.Run(flavour, func(t *testing.T) {
			srv := startPSKServer(t, flavour)
			s := dial(t, coap.Options{Addr: srv.SecureAddr(), Seed: 1, DTLS: pskDTLS()})
			hs, ok := s.DTLSHandshake()
			if !ok || hs.Duration <= 0 || hs.Resumed {
				t.Errorf("DTLSHandshake() = %+v, %v; want a full handshake that took time", hs, ok)
			}
			exerciseLibcoap(t, s, "/m2msim-psk")
			if err := s.Ping(context.Background()); err != nil {
				t.Errorf("Ping = %v", err)
			}
			if st := s.Stats(); st.Retransmissions != 0 || st.Malformed != 0 {
				t.Errorf("Stats = %+v", st)
			}
			t.Logf("handshake %v", hs.Duration)
		})
	}
}

// TestDTLSPSKSuitesLibcoap offers each PSK suite alone to libcoap's
// builds and reports which they accept; LwM2M's mandatory one must be
// among them.
func TestDTLSPSKSuitesLibcoap(t *testing.T) {
	suites := []coap.CipherSuite{
		coap.TLS_PSK_WITH_AES_128_CCM_8, coap.TLS_PSK_WITH_AES_128_CCM, coap.TLS_PSK_WITH_AES_256_CCM_8,
		coap.TLS_PSK_WITH_AES_128_GCM_SHA256, coap.TLS_PSK_WITH_AES_128_CBC_SHA256, coap.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
	}
	for _, flavour := range []string{"gnutls", "openssl"} {
		t.Run(flavour, func(t *testing.T) {
			srv := startPSKServer(t, flavour)
			var ok, refused []string
			for _, cs := range suites {
				d := pskDTLS()
				d.CipherSuites = []coap.CipherSuite{cs}
				d.HandshakeTimeout = 5 * time.Second
				s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: d})
				if err != nil {
					refused = append(refused, cs.String()+" ("+err.Error()+")")
					continue
				}
				do(t, s, request(coap.Confirmable, coap.GET, "/time", ""), coap.Content)
				s.Close()
				ok = append(ok, cs.String())
			}
			t.Logf("accepted: %v; refused: %v", ok, refused)
			if len(ok) == 0 || ok[0] != coap.TLS_PSK_WITH_AES_128_CCM_8.String() {
				t.Errorf("%s refused LwM2M's TLS_PSK_WITH_AES_128_CCM_8", flavour)
			}
		})
	}
}

// TestDTLSWrongPSK: a key the server does not share fails the handshake
// with a *HandshakeError within the handshake timeout. libcoap's builds
// send no alert: they drop the client's Finished, which does not
// decrypt, as RFC 6347 §4.1.2.7 lets them, so the handshake times out.
func TestDTLSWrongPSK(t *testing.T) {
	for _, flavour := range []string{"gnutls", "openssl"} {
		t.Run(flavour, func(t *testing.T) {
			srv := startPSKServer(t, flavour)
			d := pskDTLS()
			d.Key = []byte("not the key")
			d.HandshakeTimeout, d.FlightInterval = time.Second, 250*time.Millisecond
			start := time.Now()
			s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: d})
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("Dial with a wrong PSK succeeded")
			}
			var he *coap.HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("Dial = %v (%T), want a *HandshakeError", err, err)
			}
			if took > d.HandshakeTimeout+time.Second {
				t.Errorf("Dial failed after %v, want within the handshake timeout %v", took, d.HandshakeTimeout)
			}
			t.Logf("%v (kind %s) after %v", err, he.Kind(), took)
		})
	}
}

// TestDTLSHandshakeTimeout: a server that never answers (a UDP socket that
// reads and drops) ends the handshake with a timing-out *HandshakeError
// at HandshakeTimeout, after retransmitting every FlightInterval.
func TestDTLSHandshakeTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := 0
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			mu.Lock()
			got++
			mu.Unlock()
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })

	d := pskDTLS()
	d.HandshakeTimeout, d.FlightInterval = 600*time.Millisecond, 100*time.Millisecond
	start := time.Now()
	s, err := coap.Dial(context.Background(), coap.Options{Addr: pc.LocalAddr().String(), DTLS: d})
	took := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("Dial to a silent server succeeded")
	}
	var he *coap.HandshakeError
	if !errors.As(err, &he) || !he.Timeout() || he.Kind() != "dtls_handshake_timeout" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want a timing-out *HandshakeError", err)
	}
	// A loaded machine (CI, or other tests on 2 cores) delays goroutines
	// by seconds at times: the bounds allow for that.
	if took < d.HandshakeTimeout || took > d.HandshakeTimeout+3*time.Second {
		t.Errorf("Dial gave up after %v, want about %v", took, d.HandshakeTimeout)
	}
	mu.Lock()
	defer mu.Unlock()
	if got < 2 {
		t.Errorf("the silent server got %d ClientHellos in %v, want one every %v", got, took, d.FlightInterval)
	}
}

// TestDTLSClose: Close sends close_notify, which ends the server's side,
// and returns at once even when the server has gone; a close_notify from
// the server ends the session as lost.
func TestDTLSClose(t *testing.T) {
	cfg := &dtls.Config{
		PSK:                 func([]byte) ([]byte, error) { return []byte(testPSKKey), nil },
		PSKIdentityHint:     []byte("hint"),
		CipherSuites:        []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8},
		ConnectContextMaker: handshakeContext,
	}
	r := coaptest.StartDTLSResponder(t, cfg, nil)
	s := dial(t, coap.Options{Addr: r.Addr(), DTLS: pskDTLS()})
	do(t, s, request(coap.Confirmable, coap.GET, "/x", ""), coap.Content)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	eventually(t, 5*time.Second, "the server lets the conn go (a close_notify)", func() bool { return r.Conns() == 0 })

	serverCloses(t, cfg)

	srv := startPSKServer(t, "gnutls")
	s3 := dial(t, coap.Options{Addr: srv.SecureAddr(), DTLS: pskDTLS()})
	do(t, s3, request(coap.Confirmable, coap.GET, "/time", ""), coap.Content)
	srv.Stop()
	start = time.Now()
	s3.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close after the server went took %v", d)
	}
}

// serverCloses: a close_notify from the server ends the session as lost
// with io.EOF. pion's server now and then (about 1 in 1,000) sends none
// at its Close, so a session that hears nothing is given two more tries.
func serverCloses(t *testing.T, cfg *dtls.Config) {
	t.Helper()
	for try := range 3 {
		r := coaptest.StartDTLSResponder(t, cfg, nil)
		lost := make(chan error, 1)
		s := dial(t, coap.Options{Addr: r.Addr(), DTLS: pskDTLS(), Lost: func(err error) { lost <- err }})
		do(t, s, request(coap.Confirmable, coap.GET, "/x", ""), coap.Content)
		r.Close() // closes its conns: close_notify to s
		select {
		case err := <-lost:
			if !errors.Is(err, io.EOF) {
				t.Errorf("lost: %v, want EOF (close_notify)", err)
			}
			return
		case <-time.After(2 * time.Second):
			t.Logf("try %d: no close_notify from the server", try)
		}
	}
	t.Error("the session did not end on the server's close_notify")
}

// TestDTLSFleetLibcoap: 200 devices handshake with coap-server-gnutls at
// once, each with its own identity, and do 5 CON GETs each; every one
// succeeds.
func TestDTLSFleetLibcoap(t *testing.T) {
	srv := startPSKServer(t, "gnutls")
	const sessions, each = 200, 5
	var counters coap.Counters
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	var slowest time.Duration
	var mu sync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range sessions {
		wg.Go(func() {
			d := &coap.DTLS{Identity: fmt.Appendf(nil, "device-%04d", i), Key: []byte(testPSKKey)}
			s, err := coap.Dial(ctx, coap.Options{Addr: srv.SecureAddr(), Seed: 1, Stream: uint64(i), Counters: &counters, DTLS: d})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			hs, _ := s.DTLSHandshake()
			mu.Lock()
			slowest = max(slowest, hs.Duration)
			mu.Unlock()
			for range each {
				if _, err := s.Do(ctx, request(coap.Confirmable, coap.GET, "/time", "")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := counters.Snapshot()
	if st.Codes[coap.Content] != sessions*each || st.Timeouts != 0 {
		t.Errorf("Stats = %+v, want %d requests answered 2.05", st, sessions*each)
	}
	t.Logf("slowest handshake %v; %d retransmissions", slowest, st.Retransmissions)
}

// TestDTLSShapedLink: DTLS composes over a shaped link. 20 devices per
// libcoap build handshake through 10% loss and 5% duplication each way
// (10 ms delay), GET, close, and handshake again with their
// SessionCache (OpenSSL resumes, GnuTLS declines): every handshake and
// request succeeds, the lost flights retransmitted every FlightInterval.
func TestDTLSShapedLink(t *testing.T) {
	sh := netem.NewShaper(0)
	ctx, stop := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { sh.Run(ctx) })
	defer func() { stop(); run.Wait() }()
	p := netem.Profile{Delay: 10 * time.Millisecond, Loss: netem.Loss{P: 10}, Duplicate: 5}
	link := netem.Link{Up: p, Down: p}
	var nd net.Dialer

	for _, flavour := range []string{"gnutls", "openssl"} {
		t.Run(flavour, func(t *testing.T) {
			srv := startPSKServer(t, flavour)
			const devices = 20
			var resumed atomic.Int64
			var wg sync.WaitGroup
			for i := range devices {
				d := &coap.DTLS{Identity: fmt.Appendf(nil, "device-%d", i), Key: []byte(testPSKKey),
					FlightInterval: 100 * time.Millisecond, HandshakeTimeout: 10 * time.Second, Sessions: new(coap.SessionCache)}
				o := coap.Options{Addr: srv.SecureAddr(), Dial: sh.Dialer(nd.DialContext, link, 42, i), DTLS: d,
					AckTimeout: 500 * time.Millisecond, Seed: 42, Stream: uint64(i)}
				wg.Go(func() {
					for range 2 {
						s, err := coap.Dial(context.Background(), o)
						if err != nil {
							t.Errorf("device %d: %v", i, err)
							return
						}
						if hs, _ := s.DTLSHandshake(); hs.Resumed {
							resumed.Add(1)
						}
						rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						_, err = s.Do(rctx, request(coap.Confirmable, coap.GET, "/time", ""))
						cancel()
						s.Close()
						if err != nil {
							t.Errorf("device %d: GET: %v", i, err)
							return
						}
					}
				})
			}
			wg.Wait()
			t.Logf("%d of %d second handshakes resumed", resumed.Load(), devices)
			if flavour == "openssl" && resumed.Load() == 0 {
				t.Error("no handshake resumed through the shaped link")
			}
		})
	}
}
