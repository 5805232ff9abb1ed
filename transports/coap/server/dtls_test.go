package server_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/server"
	"github.com/m2msim/m2msim/transports/pki"
)

const testKey = "secret-psk-0123"

// pskConfig is a server's DTLS with one key for every identity.
func pskConfig() *server.DTLSConfig {
	return &server.DTLSConfig{Key: []byte(testKey)}
}

// dialDTLS opens a PSK session with the server's DTLS listener.
func dialDTLS(t testing.TB, srv *server.Server, identity string, o coap.Options) *coap.Session {
	t.Helper()
	if o.DTLS == nil {
		o.DTLS = &coap.DTLS{Identity: []byte(identity), Key: []byte(testKey)}
	}
	return dial(t, srv.SecureAddr(), o)
}

// TestDTLSPSK plays a device over DTLS with a PSK: requests, an
// observation notified after a backend Put, OnUpdate given the device's
// identity; the session's close_notify ends its observation.
func TestDTLSPSK(t *testing.T) {
	srv := start(t, server.Config{DTLS: &server.DTLSConfig{
		PSK: func(id []byte) ([]byte, error) {
			if !strings.HasPrefix(string(id), "dev-") {
				return nil, errors.New("unknown identity")
			}
			return []byte(testKey), nil
		},
		IdentityHint: []byte("m2msim"),
	}})
	if srv.SecureAddr() == "" || srv.SecureAddr() == srv.Addr() {
		t.Fatalf("SecureAddr() = %q, Addr() = %q", srv.SecureAddr(), srv.Addr())
	}
	peers := make(chan net.Addr, 4)
	srv.OnUpdate(func(path string, payload []byte, peer net.Addr, _ time.Time) { peers <- peer })
	dev := dialDTLS(t, srv, "dev-1", coap.Options{Seed: 1})

	if r := do(t, dev, req(coap.Confirmable, coap.PUT, "/cfg", "a")); r.Code != coap.Created {
		t.Errorf("PUT = %v, want 2.01", r)
	}
	if r := do(t, dev, req(coap.Confirmable, coap.POST, "/cfg", "b")); r.Code != coap.Changed {
		t.Errorf("POST = %v, want 2.04", r)
	}
	if r := do(t, dev, req(coap.Confirmable, coap.GET, "/cfg", "")); r.Code != coap.Content || string(r.Payload) != "ab" {
		t.Errorf("GET = %v, want 2.05 ab", r)
	}
	p, ok := (<-peers).(*server.DTLSPeer)
	if !ok || string(p.Identity) != "dev-1" || p.String() != dev.LocalAddr().String() || p.Certificates != nil {
		t.Errorf("OnUpdate peer = %#v, want a DTLSPeer dev-1 at %v", p, dev.LocalAddr())
	}

	var o observer
	if _, err := dev.Observe(req(coap.Confirmable, coap.GET, "/cfg", ""), o.notify); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "registration", func() bool { return len(o.payloads()) == 1 })
	for _, v := range []string{"c1", "c2", "c3"} {
		if err := srv.Put("/cfg", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "notifications", func() bool { return len(o.payloads()) == 4 })
	if got := strings.Join(o.payloads(), ","); got != "ab,c1,c2,c3" {
		t.Errorf("observed %s", got)
	}
	st := srv.Stats()
	if st.DTLSHandshakes != 1 || st.DTLSSessions != 1 || st.Observers != 1 || st.Notifications != 3 || st.WriteErrors != 0 {
		t.Errorf("Stats = %+v", st)
	}
	dev.Close()
	eventually(t, 5*time.Second, "the session and its observation ended", func() bool {
		st := srv.Stats()
		return st.DTLSSessions == 0 && st.Observers == 0
	})

	bad := &coap.DTLS{Identity: []byte("intruder"), Key: []byte(testKey), HandshakeTimeout: 3 * time.Second}
	if _, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: bad}); err == nil {
		t.Error("an unknown identity's handshake succeeded")
	}
}

// TestDTLSWrongKey: a client with another key fails its handshake, and
// the server counts it once its HandshakeTimeout passes (pion/dtls/v2
// drops a Finished that does not decrypt, as RFC 6347 §4.1.2.7 lets
// it, and waits for another).
func TestDTLSWrongKey(t *testing.T) {
	srv := start(t, server.Config{DTLS: &server.DTLSConfig{Key: []byte(testKey), HandshakeTimeout: 500 * time.Millisecond}})
	d := &coap.DTLS{Identity: []byte("dev"), Key: []byte("not-the-key"), HandshakeTimeout: time.Second}
	_, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: d})
	var he *coap.HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("Dial with a wrong key: %v, want a HandshakeError", err)
	}
	eventually(t, 5*time.Second, "a failure counted", func() bool { return srv.Stats().DTLSHandshakeFailures == 1 })
	if st := srv.Stats(); st.DTLSHandshakes != 0 || st.DTLSSessions != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestDTLSCertificates: a server certificate from a test CA, a client
// certificate required and given to OnUpdate; a client without one is
// refused.
func TestDTLSCertificates(t *testing.T) {
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	devCert, err := ca.Issue("urn:dev:1")
	if err != nil {
		t.Fatal(err)
	}
	srv := start(t, server.Config{DTLS: &server.DTLSConfig{Certificate: &cert, ClientCAs: ca.Pool(), RequireClientCert: true}})
	peers := make(chan net.Addr, 1)
	srv.OnUpdate(func(_ string, _ []byte, peer net.Addr, _ time.Time) { peers <- peer })
	dev := dial(t, srv.SecureAddr(), coap.Options{DTLS: &coap.DTLS{Certificate: &devCert, RootCAs: ca.Pool()}})
	if r := do(t, dev, req(coap.Confirmable, coap.PUT, "/x", "1")); r.Code != coap.Created {
		t.Errorf("PUT = %v, want 2.01", r)
	}
	if p, ok := (<-peers).(*server.DTLSPeer); !ok || len(p.Certificates) == 0 || p.Identity != nil {
		t.Errorf("OnUpdate peer = %#v, want the client's certificate", p)
	}

	anon := &coap.DTLS{RootCAs: ca.Pool(), HandshakeTimeout: 3 * time.Second}
	if _, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: anon}); err == nil {
		t.Error("a client without a certificate completed its handshake")
	}
	eventually(t, 5*time.Second, "a failure counted", func() bool { return srv.Stats().DTLSHandshakeFailures == 1 })
}

// TestDTLSConfigErrors: StartConfig refuses DTLS settings that cannot
// work.
func TestDTLSConfigErrors(t *testing.T) {
	ca, _ := pki.NewCA()
	cert, _ := ca.IssueServer("127.0.0.1")
	key := []byte("k")
	for _, c := range []struct {
		name string
		d    server.DTLSConfig
	}{
		{"no keys", server.DTLSConfig{}},
		{"empty key", server.DTLSConfig{Key: []byte{}}},
		{"key and PSK", server.DTLSConfig{Key: key, PSK: func([]byte) ([]byte, error) { return key, nil }}},
		{"key and certificate", server.DTLSConfig{Key: key, Certificate: &cert}},
		{"client certificates without CAs", server.DTLSConfig{Certificate: &cert, RequireClientCert: true}},
		{"a certificate suite with a key", server.DTLSConfig{Key: key, CipherSuites: []coap.CipherSuite{coap.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8}}},
		{"an unknown suite", server.DTLSConfig{Key: key, CipherSuites: []coap.CipherSuite{0x1301}}},
	} {
		s, err := server.StartConfig("127.0.0.1:0", nil, server.Config{DTLS: &c.d})
		if err == nil {
			s.Close()
			t.Errorf("%s: StartConfig succeeded", c.name)
		}
	}
}

// TestDTLSConcurrentClients: 200 clients handshake at once and each
// does a few requests, without an error.
func TestDTLSConcurrentClients(t *testing.T) {
	srv := start(t, server.Config{DTLS: pskConfig()})
	srv.Put("/shared", []byte("x"))
	const clients, each = 200, 3
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range clients {
		wg.Go(func() {
			d := &coap.DTLS{Identity: []byte("dev-" + strconv.Itoa(i)), Key: []byte(testKey)}
			s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: d, Seed: 7, Stream: uint64(i)})
			if err != nil {
				failed.Add(1)
				t.Errorf("client %d: %v", i, err)
				return
			}
			defer s.Close()
			path := "/c/" + strconv.Itoa(i)
			for j := range each {
				for _, m := range []*coap.Message{
					req(coap.Confirmable, coap.PUT, path, strconv.Itoa(j)),
					req(coap.Confirmable, coap.GET, "/shared", ""),
				} {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := s.Do(ctx, m)
					cancel()
					if err != nil {
						failed.Add(1)
						t.Errorf("client %d: %v: %v", i, m, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	st := srv.Stats()
	if failed.Load() > 0 || st.DTLSHandshakes != clients || st.Requests[coap.PUT] != clients*each || st.Dropped != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// mute is a client's socket that sends only its first datagram (a
// ClientHello) and reads nothing: a client that vanished mid-handshake.
type mute struct {
	net.Conn
	sent atomic.Bool
}

func (m *mute) Write(b []byte) (int, error) {
	if m.sent.Swap(true) {
		return len(b), nil
	}
	return m.Conn.Write(b)
}

// vanish starts a handshake with addr and abandons it after its first
// ClientHello.
func vanish(t *testing.T, addr string) {
	t.Helper()
	dialMute := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return &mute{Conn: c}, err
	}
	d := &coap.DTLS{Identity: []byte("gone"), Key: []byte(testKey), HandshakeTimeout: 100 * time.Millisecond}
	if _, err := coap.Dial(context.Background(), coap.Options{Addr: addr, Dial: dialMute, DTLS: d}); err == nil {
		t.Fatal("a mute client completed its handshake")
	}
}

// TestDTLSStalledHandshakes: clients that vanish mid-handshake hold
// their handshakes until HandshakeTimeout, but not the others; Close
// ends the stalled ones at once, and every goroutine the server started.
func TestDTLSStalledHandshakes(t *testing.T) {
	baseline := runtime.NumGoroutine()
	srv, err := server.StartConfig("127.0.0.1:0", nil, server.Config{DTLS: &server.DTLSConfig{
		Key: []byte(testKey), HandshakeTimeout: time.Minute, MaxHandshakes: 8}})
	if err != nil {
		t.Fatal(err)
	}
	const stalled = 6
	for range stalled {
		vanish(t, srv.SecureAddr())
	}
	eventually(t, 5*time.Second, "stalled handshakes", func() bool { return srv.Stats().DTLSHandshaking == stalled })
	start := time.Now()
	dev := dialDTLS(t, srv, "dev-1", coap.Options{})
	if r := do(t, dev, req(coap.Confirmable, coap.GET, "/none", "")); r.Code != coap.NotFound {
		t.Errorf("GET = %v, want 4.04", r)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a handshake behind %d stalled ones took %v", stalled, took)
	}
	start = time.Now()
	srv.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v", took)
	}
	dev.Close()
	eventually(t, 5*time.Second, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
}

// TestDTLSCloseWithSessions: Close with observing sessions open returns
// quickly, and every goroutine of the server and clients ends.
func TestDTLSCloseWithSessions(t *testing.T) {
	baseline := runtime.NumGoroutine()
	srv, err := server.StartConfig("127.0.0.1:0", nil, server.Config{DTLS: pskConfig()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Put("/cmd", []byte("0"))
	var devs []*coap.Session
	for i := range 20 {
		d := &coap.DTLS{Identity: []byte("dev"), Key: []byte(testKey)}
		s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: d, Seed: 3, Stream: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, s)
		var o observer
		if _, err := s.Observe(req(coap.Confirmable, coap.GET, "/cmd", ""), o.notify); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "registrations", func() bool { return srv.Stats().Observers == 20 })
	start := time.Now()
	srv.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close with 20 sessions took %v", took)
	}
	for _, s := range devs {
		s.Close()
	}
	eventually(t, 5*time.Second, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
}

// TestDTLSIdle: a session idle for IdleTimeout ends with its
// observation; past MaxSessions a ClientHello is refused.
func TestDTLSIdle(t *testing.T) {
	srv := start(t, server.Config{DTLS: &server.DTLSConfig{Key: []byte(testKey), IdleTimeout: 200 * time.Millisecond, MaxSessions: 1}})
	srv.Put("/cmd", []byte("0"))
	dev := dialDTLS(t, srv, "dev-1", coap.Options{})
	var o observer
	if _, err := dev.Observe(req(coap.Confirmable, coap.GET, "/cmd", ""), o.notify); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "registration", func() bool { return srv.Stats().Observers == 1 })

	d := &coap.DTLS{Identity: []byte("dev-2"), Key: []byte(testKey), HandshakeTimeout: 300 * time.Millisecond}
	if _, err := coap.Dial(context.Background(), coap.Options{Addr: srv.SecureAddr(), DTLS: d}); err == nil {
		t.Error("a session past MaxSessions")
	}
	if st := srv.Stats(); st.DTLSRefused == 0 {
		t.Errorf("Stats = %+v, want a refusal", st)
	}
	eventually(t, 5*time.Second, "the idle session ended", func() bool {
		st := srv.Stats()
		return st.DTLSExpired == 1 && st.DTLSSessions == 0 && st.Observers == 0
	})
	d.HandshakeTimeout = 0
	dialDTLS(t, srv, "dev-2", coap.Options{DTLS: d}) // room again
}

// recorder is a client's socket that keeps the last ClientHello sent.
type recorder struct {
	net.Conn
	hello []byte
}

func (r *recorder) Write(b []byte) (int, error) {
	if len(b) > 13 && b[0] == 22 && b[13] == 1 {
		r.hello = append(r.hello[:0], b...)
	}
	return r.Conn.Write(b)
}

// TestDTLSRehandshake: a late copy of a client's ClientHello leaves its
// session be; a client that starts over from the same address without
// ending its session (a reboot, a NAT reusing its port) gets a new
// session: its ClientHello ends the old one, whose observation ends
// with it.
func TestDTLSRehandshake(t *testing.T) {
	srv := start(t, server.Config{DTLS: pskConfig()})
	srv.Put("/cmd", []byte("0"))
	var sock *recorder
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	dialFrom := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{LocalAddr: local}).DialContext(ctx, network, addr)
		sock = &recorder{Conn: c}
		return sock, err
	}
	old := dialDTLS(t, srv, "dev-1", coap.Options{Dial: dialFrom})
	var o observer
	if _, err := old.Observe(req(coap.Confirmable, coap.GET, "/cmd", ""), o.notify); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "registration", func() bool { return srv.Stats().Observers == 1 })
	sock.Conn.Write(sock.hello) // a retransmission the network delayed
	if r := do(t, old, req(coap.Confirmable, coap.GET, "/cmd", "")); r.Code != coap.Content {
		t.Errorf("GET after a late ClientHello = %v, want 2.05", r)
	}
	if st := srv.Stats(); st.DTLSSessions != 1 || st.Observers != 1 {
		t.Errorf("Stats = %+v after a late ClientHello, want the session kept", st)
	}
	local = sock.LocalAddr().(*net.UDPAddr)
	sock.Close() // the device reboots: no close_notify

	start := time.Now()
	dev := dialDTLS(t, srv, "dev-1", coap.Options{Dial: dialFrom})
	if r := do(t, dev, req(coap.Confirmable, coap.GET, "/cmd", "")); r.Code != coap.Content {
		t.Errorf("GET = %v, want 2.05", r)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the new session took %v", took)
	}
	if st := srv.Stats(); st.DTLSHandshakes != 2 || st.DTLSSessions != 1 || st.Observers != 0 {
		t.Errorf("Stats = %+v, want the old session and its observation gone", st)
	}
}

// TestDTLSResumption: a client that kept its session resumes it in an
// abbreviated handshake, and OnUpdate still learns its identity; with
// no session cache on the server its handshake is a full one.
func TestDTLSResumption(t *testing.T) {
	for _, size := range []int{0, -1} {
		srv := start(t, server.Config{DTLS: &server.DTLSConfig{Key: []byte(testKey), SessionCache: size}})
		peers := make(chan net.Addr, 2)
		srv.OnUpdate(func(_ string, _ []byte, peer net.Addr, _ time.Time) { peers <- peer })
		d := &coap.DTLS{Identity: []byte("dev-1"), Key: []byte(testKey), Sessions: &coap.SessionCache{}}
		for i := range 2 {
			s := dial(t, srv.SecureAddr(), coap.Options{DTLS: d, Seed: 1, Stream: uint64(i)})
			do(t, s, req(coap.Confirmable, coap.PUT, "/x", "1"))
			hs, _ := s.DTLSHandshake()
			if want := i == 1 && size == 0; hs.Resumed != want {
				t.Errorf("SessionCache %d, handshake %d: Resumed = %v, want %v", size, i, hs.Resumed, want)
			}
			if p := (<-peers).(*server.DTLSPeer); string(p.Identity) != "dev-1" {
				t.Errorf("SessionCache %d, handshake %d: identity %q", size, i, p.Identity)
			}
			s.Close()
		}
		if st := srv.Stats(); st.DTLSHandshakes != 2 || (st.DTLSResumed == 1) != (size == 0) {
			t.Errorf("SessionCache %d: Stats = %+v", size, st)
		}
	}
}
