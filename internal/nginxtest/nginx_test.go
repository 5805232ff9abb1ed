package nginxtest_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/m2msim/m2msim/internal/nginxtest"
	"github.com/m2msim/m2msim/transports/pki"
)

func upstream(t *testing.T) *httptest.Server {
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				mt, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				c.WriteMessage(mt, append([]byte("echo:"), p...))
			}
		}
		io.WriteString(w, "hello "+r.URL.Path+" via "+r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestProxiesHTTPAndWebSocket(t *testing.T) {
	up := upstream(t)
	n := nginxtest.Start(t, nginxtest.Options{Upstream: strings.TrimPrefix(up.URL, "http://")})
	if n.PID() == 0 {
		t.Fatal("no pid for a running nginx")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + n.Addr() + "/a/b")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(body), "hello /a/b via 127.0.0.1"; got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	c, r, err := d.Dial("ws://"+n.Addr()+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r.Header.Get("Sec-Websocket-Protocol") != "mqtt" {
		t.Fatalf("subprotocol %q, want mqtt", r.Header.Get("Sec-Websocket-Protocol"))
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "echo:\x01\x02" {
		t.Fatalf("echo %q, %v", p, err)
	}
	n.Stop()
	if n.PID() != 0 {
		t.Fatal("pid after Stop")
	}
}

func TestTerminatesTLSAndVerifiesClients(t *testing.T) {
	up := upstream(t)
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv, err := ca.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(srv)
	if err != nil {
		t.Fatal(err)
	}
	n := nginxtest.Start(t, nginxtest.Options{
		Upstream: strings.TrimPrefix(up.URL, "http://"),
		CertFile: write("server.pem", certPEM), KeyFile: write("server.key", keyPEM),
		ClientCAFile: write("ca.pem", ca.CertPEM()),
	})
	get := func(certs ...tls.Certificate) (int, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + n.Addr() + "/x")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	client, err := ca.Issue("device-1")
	if err != nil {
		t.Fatal(err)
	}
	if code, err := get(client); err != nil || code != http.StatusOK {
		t.Fatalf("with a client certificate: %d, %v", code, err)
	}
	// nginx answers a missing client certificate with 400, not an alert.
	if code, err := get(); err != nil || code != http.StatusBadRequest {
		t.Fatalf("without a client certificate: %d, %v; want 400", code, err)
	}
}
