package scenarios

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/nginxtest"
	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/pki"
)

// freeAddr is a loopback address no one listens on, for the endpoint
// behind nginx: nginx is told it before the endpoint starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tlsProxy is nginx terminating TLS with a certificate of a throwaway CA,
// and the client configuration that trusts it.
func tlsProxy(t *testing.T, upstream string) (*nginxtest.Nginx, *tls.Config) {
	t.Helper()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(srv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	n := nginxtest.Start(t, nginxtest.Options{Upstream: upstream, CertFile: cert, KeyFile: key})
	return n, &tls.Config{RootCAs: ca.Pool(), ClientSessionCache: tls.NewLRUClientSessionCache(256)}
}

// HTTP and WebSocket fleets through Debian's nginx, plain and with TLS
// terminated by nginx: m2msim's endpoint listens behind it on
// backend.listen and still times every flow end to end.
func TestRunWebThroughNginx(t *testing.T) {
	for _, c := range []struct {
		protocol, scheme string
		secure           bool
	}{{"http", "http", false}, {"http", "https", true}, {"websocket", "ws", false}, {"websocket", "wss", true}} {
		t.Run(c.scheme, func(t *testing.T) {
			listen := freeAddr(t)
			var n *nginxtest.Nginx
			var cfg *tls.Config
			if c.secure {
				n, cfg = tlsProxy(t, listen)
			} else {
				n = nginxtest.Start(t, nginxtest.Options{Upstream: listen})
			}
			s := webFleet(t, c.protocol, fmt.Sprintf("target: {%s: %q}\nbackend: {listen: %q}",
				c.protocol, c.scheme+"://"+n.Addr(), listen), "")
			rec := newTimedTally()
			var tlsFor func(int) *tls.Config
			if cfg != nil {
				tlsFor = func(int) *tls.Config { return cfg }
			}
			runWeb(t, s, rec, tlsFor, nil)
			checkAccounted(t, rec, c.protocol == "http")
			if t.Failed() {
				t.Logf("events %v, counts %v, errors %v", rec.kinds, rec.named, rec.errs)
			}
		})
	}
}

// nginx killed mid-run: HTTP and WebSocket devices fail their messages,
// lose their connections and retry with their backoff, and the run still
// ends on time.
func TestRunWebNginxKilledMidRun(t *testing.T) {
	for _, c := range []struct{ protocol, scheme, client string }{
		{"http", "http", "    http: {timeout: 2s}\n"}, {"websocket", "ws", ""},
	} {
		t.Run(c.protocol, func(t *testing.T) {
			listen := freeAddr(t)
			n := nginxtest.Start(t, nginxtest.Options{Upstream: listen})
			s, err := Parse("killed.yaml", fmt.Appendf(nil, `version: 1
name: killed
seed: 3
duration: 4s
drain: 2s
target: {%s: "%s://%s"}
backend: {listen: %q}
groups:
  - name: gw
    protocol: %s
    count: 100
    connect: {rate: 1000/s, timeout: 2s}
    reconnect: {backoff: fixed, initial: 200ms}
%s    telemetry: {every: 500ms}
    commands: {every: 1s}
`, c.protocol, c.scheme, n.Addr(), listen, c.protocol, c.client))
			if err != nil {
				t.Fatal(err)
			}
			rec := newTimedTally()
			start := time.Now()
			runWeb(t, s, rec, nil, func(*Runtime) {
				time.Sleep(1500 * time.Millisecond)
				n.Stop()
			})
			if el := time.Since(start); el > 15*time.Second {
				t.Errorf("run took %v after nginx died, want it to end near its 4s + 2s drain", el)
			}
			k := rec.kinds
			if k[sim.Delivered] == 0 || k[sim.Disconnected] == 0 || k[sim.ConnectFailed] == 0 {
				t.Errorf("delivered %d, disconnected %d, connect failures %d: want deliveries before the kill, then losses and failed retries",
					k[sim.Delivered], k[sim.Disconnected], k[sim.ConnectFailed])
			}
			if c.protocol == "http" && k[sim.Unacked]+k[sim.PublishFailed] == 0 {
				t.Errorf("no failed message after nginx died: %v", k)
			}
		})
	}
}

// HTTP and WebSocket devices with a client certificate each, from the
// scenario's own tls block, through nginx that verifies them against the
// user's CA: every flow goes through; without certificates nginx turns
// every device away.
func TestRunWebWithClientCertificates(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	serverCA, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	clientCA, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serverCA.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(srv)
	if err != nil {
		t.Fatal(err)
	}
	clientKey, err := clientCA.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	caFile, clientCert, clientKeyFile := write("server-ca.pem", serverCA.CertPEM()), write("client-ca.pem", clientCA.CertPEM()), write("client-ca.key", clientKey)
	for _, protocol := range []string{"http", "websocket"} {
		t.Run(protocol, func(t *testing.T) {
			listen := freeAddr(t)
			n := nginxtest.Start(t, nginxtest.Options{Upstream: listen, CertFile: write(protocol+"-server.pem", certPEM),
				KeyFile: write(protocol+"-server.key", keyPEM), ClientCAFile: clientCert})
			scheme := map[string]string{"http": "https", "websocket": "wss"}[protocol]
			target := fmt.Sprintf("target: {%s: %q}\nbackend: {listen: %q}", protocol, scheme+"://"+n.Addr(), listen)
			s := webFleet(t, protocol, target, fmt.Sprintf("    tls: {ca: %q, client_certificates: true, client_ca_cert: %q, client_ca_key: %q}",
				caFile, clientCert, clientKeyFile))
			rec := newTimedTally()
			runWeb(t, s, rec, nil, nil)
			checkAccounted(t, rec, protocol == "http")
			if t.Failed() {
				t.Logf("events %v, counts %v, errors %v", rec.kinds, rec.named, rec.errs)
			}
			// The same fleet without certificates: nginx refuses each.
			bare := webFleet(t, protocol, target, fmt.Sprintf("    tls: {ca: %q}", caFile))
			rec = newTimedTally()
			runWeb(t, bare, rec, nil, nil)
			if d := rec.kinds[sim.Delivered]; d != 0 || rec.kinds[sim.PublishFailed]+rec.kinds[sim.ConnectFailed]+rec.kinds[sim.Unacked] == 0 {
				t.Errorf("without client certificates: %d delivered, errors %v; want none delivered, every device refused", d, rec.errs)
			}
		})
	}
}
