package scenarios

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/nginxtest"
	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/pki"
)

func TestParseWebSocketTargets(t *testing.T) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	doc := func(b string) string {
		return head + "target: {broker: '" + b + "'}\ngroups: [{count: 1, telemetry: {every: 1s}}]\n"
	}
	for in, want := range map[string]string{
		"embedded+ws":                 "embedded+ws",
		"ws://127.0.0.1":              "ws://127.0.0.1:80/mqtt",
		"ws://127.0.0.1:8080/":        "ws://127.0.0.1:8080/",
		"wss://broker.example/ws/mq":  "wss://broker.example:443/ws/mq",
		"wss://[::1]:8884/mqtt":       "wss://[::1]:8884/mqtt",
		"ws://h:9001/a%20b":           "ws://h:9001/a%20b",
		"WS://127.0.0.1:1/mqtt":       "ws://127.0.0.1:1/mqtt",
		"tcp://127.0.0.1:1883":        "tcp://127.0.0.1:1883",
		"mqtt://broker.example:18830": "mqtt://broker.example:18830",
	} {
		s, err := Parse("t.yaml", []byte(doc(in)))
		if err != nil {
			t.Errorf("Parse(broker %q) = %v", in, err)
			continue
		}
		if s.Target.Broker != want {
			t.Errorf("broker %q normalised to %q, want %q", in, s.Target.Broker, want)
		}
		if again, err := brokerAddress.normalise(want); again != want || err != nil {
			t.Errorf("normalise(%q) = %q, %v: want it unchanged", want, again, err)
		}
		if ws := strings.HasPrefix(want, "ws") || want == "embedded+ws"; s.Target.BrokerWebSocket() != ws {
			t.Errorf("broker %q: WebSocket() = %t, want %t", in, s.Target.BrokerWebSocket(), ws)
		}
	}
	for in, want := range map[string]string{
		"ws://h/mqtt?token=x":  "must be only scheme://host:port, or ws(s)://host:port/path",
		"wss://u:p@h/mqtt":     "must be only scheme://host:port, or ws(s)://host:port/path",
		"ws://h/mqtt#f":        "must be only scheme://host:port, or ws(s)://host:port/path",
		"ws:///mqtt":           "has no host",
		"ws://h:0/mqtt":        "port must be 1 to 65535",
		"embedded+wss":         "must be embedded, embedded+ws,",
		"tcp://h:1883/mqtt":    "must be only scheme://host:port",
		"http://h:80/mqtt":     "must be embedded, embedded+ws,",
		"embedded+ws://h:1/mq": "must be embedded, embedded+ws,",
	} {
		wantProblems(t, in, doc(in), []string{"target.broker: " + want})
	}
	wantProblems(t, "embedded+ws for coap", head+"target: {coap: embedded+ws}\ngroups: [{count: 1, protocol: coap, telemetry: {every: 1s}}]\n",
		[]string{"target.coap: must be embedded, coap://host:port or coaps://host:port"})
	tg := Target{Broker: "embedded+ws"}
	if !tg.Embedded() || !tg.Loopback() || tg.Addr() != "" {
		t.Errorf("embedded+ws: Embedded %t, Loopback %t, Addr %q; want true, true, \"\"", tg.Embedded(), tg.Loopback(), tg.Addr())
	}
	tg = Target{Broker: "wss://127.0.0.1:8884/mqtt"}
	if tg.Embedded() || !tg.Loopback() || tg.Addr() != "127.0.0.1:8884" {
		t.Errorf("wss://127.0.0.1:8884/mqtt: Embedded %t, Loopback %t, Addr %q; want false, true, 127.0.0.1:8884", tg.Embedded(), tg.Loopback(), tg.Addr())
	}
}

// wsScenario is a fleet of n devices with telemetry and commands over a
// shaped link (20 ms each way) to broker.
func wsScenario(t *testing.T, broker string, n int, extra string) *Scenario {
	t.Helper()
	s, err := Parse("ws.yaml", fmt.Appendf(nil, `version: 1
name: ws
seed: 11
duration: 4s
drain: 5s
target: {broker: "%s"}
groups:
  - name: meters
    count: %d
    connect: {rate: 1000/s, timeout: 10s}
    link: {up: "delay 20ms", down: "delay 20ms"}
    telemetry: {every: 1s, qos: 1, size: 64B}
    commands: {every: 2s, qos: 1}
%s`, broker, n, extra))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkFlows checks every telemetry message was acked and delivered and
// every command answered, with no failures.
func checkFlows(t *testing.T, rec *eventTally, n int) {
	t.Helper()
	k := rec.kinds
	if k[sim.Connected] != n || k[sim.Published] < 2*n || k[sim.Acked] != k[sim.Published] || k[sim.Delivered] != k[sim.Published] {
		t.Errorf("connected %d, published %d, acked %d, delivered %d: want %d connected, >= %d published, all acked and delivered",
			k[sim.Connected], k[sim.Published], k[sim.Acked], k[sim.Delivered], n, 2*n)
	}
	if k[sim.CommandSent] < n/2 || k[sim.CommandReplied] != k[sim.CommandSent] {
		t.Errorf("commands sent %d, replied %d: want >= %d, all replied", k[sim.CommandSent], k[sim.CommandReplied], n/2)
	}
	if bad := k[sim.ConnectFailed] + k[sim.Disconnected] + k[sim.PublishFailed] + k[sim.Unacked]; bad != 0 {
		t.Errorf("%d failures, want none: %v", bad, rec.errs)
	}
}

// 200 devices speak MQTT over WebSocket to the embedded broker through a
// shaped link: telemetry and commands flow end to end.
func TestRunMQTTOverWebSocket(t *testing.T) {
	const n = 200
	s := wsScenario(t, "embedded+ws", n, "")
	rec := newTally()
	runOpened(t, s, 11, rec)
	checkFlows(t, rec, n)
}

// tlsFiles writes a server certificate for 127.0.0.1 from a throwaway
// CA, and returns the files and the CA.
func tlsFiles(t *testing.T) (certFile, keyFile string, ca *pki.CA) {
	t.Helper()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pki.EncodePEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, ca
}

// wsBroker starts the embedded broker with a WebSocket listener and
// returns it with that listener's host:port.
func wsBroker(t *testing.T) (*broker.Broker, string) {
	t.Helper()
	b, err := broker.StartWith(broker.Options{Addr: "127.0.0.1:0", WebSocketAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	hostport := strings.TrimSuffix(strings.TrimPrefix(b.WebSocketURL(), "ws://"), broker.WebSocketPath)
	return b, hostport
}

// The same fleet over wss:// through nginx, which terminates TLS and
// speaks plain WebSocket to the broker; the backend takes the same way.
func TestRunMQTTOverWSSThroughNginx(t *testing.T) {
	const n = 200
	_, upstream := wsBroker(t)
	certFile, keyFile, ca := tlsFiles(t)
	ngx := nginxtest.Start(t, nginxtest.Options{Upstream: upstream, CertFile: certFile, KeyFile: keyFile})
	s := wsScenario(t, "wss://"+ngx.Addr()+"/mqtt", n, "")
	var mu sync.Mutex
	asked := map[int]bool{}
	s.wsTLS = func(device int) *tls.Config {
		mu.Lock()
		asked[device] = true
		mu.Unlock()
		return &tls.Config{RootCAs: ca.Pool()}
	}
	rec := newTally()
	runOpened(t, s, 11, rec)
	checkFlows(t, rec, n)
	if !asked[-1] || !asked[0] || !asked[n-1] || len(asked) != n+1 {
		t.Errorf("TLS configuration asked for %d devices (backend %t): want each device and the backend", len(asked), asked[-1])
	}
}

// forwarder is a TCP proxy that can drop every connection it carries,
// as a proxy that dies and comes back does.
type forwarder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex // guards conns
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, target: target}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() { ln.Close(); f.drop(); f.wg.Wait() })
	return f
}

func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", f.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, up)
		f.mu.Unlock()
		f.wg.Add(2)
		go f.pipe(c, up)
		go f.pipe(up, c)
	}
}

func (f *forwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// drop closes every connection carried so far.
func (f *forwarder) drop() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	n := len(f.conns) / 2
	f.conns = nil
	return n
}

// A proxy that drops every connection mid-run: each device's session
// ends as Disconnected, the devices reconnect through it, and the run
// ends on time.
func TestRunWebSocketProxyDies(t *testing.T) {
	const n = 100
	_, upstream := wsBroker(t)
	fw := startForwarder(t, upstream)
	s := wsScenario(t, "ws://"+fw.ln.Addr().String()+"/mqtt", n, "    reconnect: {backoff: fixed, initial: 200ms, max: 200ms}\n")
	rec := &afterDrop{eventTally: newTally()}
	go func() {
		time.Sleep(2 * time.Second)
		rec.dropped.Store(true)
		fw.drop()
	}()
	start := time.Now()
	runOpened(t, s, 11, rec)
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("run took %v, want about its 4s plus drain", el)
	}
	k := rec.kinds
	if k[sim.Disconnected] != n || k[sim.Reconnecting] < n || k[sim.Connected] != 2*n {
		t.Errorf("disconnected %d, reconnecting %d, connected %d: want %d lost, each reconnecting and connected again (%d)",
			k[sim.Disconnected], k[sim.Reconnecting], k[sim.Connected], n, 2*n)
	}
	if a := rec.acked.Load(); a < n {
		t.Errorf("acked %d after the drop, want >= %d: telemetry should flow again after reconnecting", a, n)
	}
	t.Logf("events: %v; acked after the drop: %d", k, rec.acked.Load())
}

// afterDrop counts the acks recorded once dropped is set.
type afterDrop struct {
	*eventTally
	dropped atomic.Bool
	acked   atomic.Int64
}

func (a *afterDrop) Record(ev sim.Event) {
	if ev.Kind == sim.Acked && a.dropped.Load() {
		a.acked.Add(1)
	}
	a.eventTally.Record(ev)
}

// A wss:// broker takes the scenario's tls blocks: target.tls for the
// backend and every group, here the CA nginx's certificate comes from.
func TestRunMQTTOverWSSWithTheTLSBlock(t *testing.T) {
	const n = 100
	_, upstream := wsBroker(t)
	certFile, keyFile, ca := tlsFiles(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	ngx := nginxtest.Start(t, nginxtest.Options{Upstream: upstream, CertFile: certFile, KeyFile: keyFile})
	s, err := Parse("wss.yaml", fmt.Appendf(nil, `version: 1
name: wss
seed: 11
duration: 4s
drain: 5s
target: {broker: "wss://%s/mqtt", tls: {ca: %q}}
groups:
  - name: meters
    count: %d
    connect: {rate: 1000/s, timeout: 10s}
    telemetry: {every: 1s, qos: 1, size: 64B}
    commands: {every: 2s, qos: 1}
`, ngx.Addr(), caFile, n))
	if err != nil {
		t.Fatal(err)
	}
	rec := newTally()
	runOpened(t, s, 11, rec)
	checkFlows(t, rec, n)
}
