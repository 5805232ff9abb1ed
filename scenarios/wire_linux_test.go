package scenarios

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/rootonly"
	"github.com/m2msim/m2msim/report"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/kernel"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// latencies records every latency and count of a run, by kind and by
// metric.
type latencies struct {
	// from leaves out acknowledgements before this run time: a report
	// due while its device connected waits for the connection, and
	// that wait is not the link's.
	from   time.Duration
	mu     sync.Mutex
	kinds  map[sim.EventKind][]time.Duration
	named  map[string][]time.Duration
	counts map[string]int
	failed int
}

func newLatencies() *latencies {
	return &latencies{kinds: map[sim.EventKind][]time.Duration{}, named: map[string][]time.Duration{}, counts: map[string]int{}}
}

func (l *latencies) Record(ev sim.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev.Kind {
	case sim.Measured:
		l.named[ev.Metric] = append(l.named[ev.Metric], ev.Latency)
	case sim.Counted:
		l.counts[ev.Metric]++
	case sim.ConnectFailed, sim.Unacked, sim.PublishFailed:
		l.failed++
	case sim.Connected, sim.Acked:
		if ev.Err == "" && (ev.Kind == sim.Connected || ev.At >= l.from) {
			l.kinds[ev.Kind] = append(l.kinds[ev.Kind], ev.Latency)
		}
	}
}

// quantile returns the q-quantile of d (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// mosquittoCommand writes a mosquitto.conf listening on the wire's
// server address and returns the link.server_command that runs it, as
// YAML, and the path of the broker's log.
func mosquittoCommand(t *testing.T) (string, string) {
	t.Helper()
	bin := mqtttest.MosquittoBinary(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mosquitto.log")
	conf := filepath.Join(dir, "mosquitto.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, "user root\nlistener 1883 10.78.0.1\nset_tcp_nodelay true\nallow_anonymous true\nmax_connections -1\n"+
		"log_dest file %s\nlog_type all\nconnection_messages true\nmax_inflight_messages 0\nmax_queued_messages 100000\n", logPath), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("[%q, -c, %q]", bin, conf), logPath
}

// wireMQTT is an MQTT fleet under the wire against Mosquitto in the
// server namespace, with link as every device's link.
func wireMQTT(t *testing.T, cmd string, devices int, every, duration string, link string) *Scenario {
	t.Helper()
	s, err := Parse("wire.yaml", fmt.Appendf(nil, `version: 1
name: wire
seed: 11
duration: %s
drain: 10s
link: {engine: wire, server_command: %s}
target: {broker: "tcp://10.78.0.1:1883"}
groups:
  - name: d
    count: %d
    connect: {rate: 500/s}
    link: %s
    telemetry: {every: %s, qos: 1}
`, duration, cmd, devices, link, every))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Under the wire the kernel's TCP meets the link: a fixed 100 ms each way
// adds one round trip (200 ms) to every PUBACK and two to a connect (the
// TCP handshake, then CONNECT/CONNACK), and the kernel's own RTT reads
// 200 ms; 5 % loss makes the kernel retransmit, which grows the PUBACK
// tail by its RTO (at least 200 ms).
func TestWireMQTTDelayAndLossAgainstMosquitto(t *testing.T) {
	rootonly.Need(t)
	cmd, _ := mosquittoCommand(t)
	run := func(link string) *latencies {
		rec := newLatencies()
		rec.from = time.Second // every device has been connected for a while
		runOpened(t, wireMQTT(t, cmd, 20, "200ms", "4s", link), 11, rec)
		return rec
	}
	// Other work on the machine starves the wire's forwarding now and
	// then, which the kernel's own RTT shows: the best of three pairs of
	// runs is the wire's accuracy, as in bench/netem-accuracy.
	var problems []string
	for attempt := range 3 {
		problems = delayProblems(t, run("{}"), run(`{up: "delay 100ms", down: "delay 100ms"}`))
		if len(problems) == 0 {
			break
		}
		t.Logf("attempt %d: %s", attempt+1, strings.Join(problems, "; "))
	}
	for _, p := range problems {
		t.Error(p)
	}
	lossy := run(`{up: "loss 5%", down: "loss 5%"}`)
	if lossy.counts[MetricTCPRetransmits] == 0 || lossy.counts[MetricWireDropped] == 0 {
		t.Errorf("5%% loss: %d retransmits, %d dropped by the wire, want both > 0", lossy.counts[MetricTCPRetransmits], lossy.counts[MetricWireDropped])
	}
	// Linux's minimum RTO is 200 ms: a PUBLISH or PUBACK lost (about one
	// exchange in ten at 5 % each way) waits at least that long.
	if l := quantile(lossy.kinds[sim.Acked], 0.99); l < 200*time.Millisecond {
		t.Errorf("PUBACK p99 at 5%% loss = %v, want the kernel's RTO tail (>= 200 ms)", l)
	}
	t.Logf("5%% loss: %d retransmits, %d dropped, PUBACK p99 %v", lossy.counts[MetricTCPRetransmits],
		lossy.counts[MetricWireDropped], quantile(lossy.kinds[sim.Acked], 0.99))
}

// delayProblems compares an unshaped run with one at 100 ms each way.
func delayProblems(t *testing.T, base, delayed *latencies) []string {
	var out []string
	for name, r := range map[string]*latencies{"base": base, "delayed": delayed} {
		if n := len(r.kinds[sim.Acked]); n < 300 || r.failed > 0 {
			t.Fatalf("%s: %d acks, %d failures: want >= 300 and none", name, n, r.failed)
		}
	}
	shift := func(k sim.EventKind, q float64) time.Duration {
		return quantile(delayed.kinds[k], q) - quantile(base.kinds[k], q)
	}
	within := func(what string, got, want, tol time.Duration) {
		if got < want-tol || got > want+tol {
			out = append(out, fmt.Sprintf("%s = %v, want %v +/- %v", what, got, want, tol))
		}
	}
	within("PUBACK p50 shift", shift(sim.Acked, 0.5), 200*time.Millisecond, 3*time.Millisecond)
	// A p99 is the machine's as much as the link's: a fixed delay has no
	// spread of its own, so each run's p99 - p50 is the host's noise, and
	// the p99 shift must be 200 ms within 2 ms plus that noise (2 ms on a
	// quiet machine).
	spread := func(r *latencies) time.Duration {
		return quantile(r.kinds[sim.Acked], 0.99) - quantile(r.kinds[sim.Acked], 0.5)
	}
	within("PUBACK p99 shift", shift(sim.Acked, 0.99), 200*time.Millisecond, 2*time.Millisecond+max(spread(base), spread(delayed)))
	within("connect p50 shift", shift(sim.Connected, 0.5), 400*time.Millisecond, 5*time.Millisecond)
	within("tcp_rtt p50", quantile(delayed.named[MetricTCPRTT], 0.5), 200*time.Millisecond, 3*time.Millisecond)
	if n := len(delayed.named[MetricTCPRTT]); n != 20 {
		out = append(out, fmt.Sprintf("tcp_rtt measured %d times, want 20 (one per device connection)", n))
	}
	if base.counts[MetricTCPRetransmits] != 0 || base.counts[MetricWireDropped] != 0 {
		out = append(out, fmt.Sprintf("unshaped: %d retransmits, %d dropped, want none", base.counts[MetricTCPRetransmits], base.counts[MetricWireDropped]))
	}
	t.Logf("shift: PUBACK p50 %v p99 %v, connect p50 %v; tcp_rtt p50 %v", shift(sim.Acked, 0.5), shift(sim.Acked, 0.99),
		shift(sim.Connected, 0.5), quantile(delayed.named[MetricTCPRTT], 0.5))
	return out
}

// 2,000 devices each dial from their own address: Mosquitto, in the
// server namespace, sees 2,000 distinct peers.
func TestWire2000DevicesFromTheirOwnAddresses(t *testing.T) {
	rootonly.Need(t)
	if testing.Short() {
		t.Skip("2,000 connections: skipped with -short")
	}
	cmd, logPath := mosquittoCommand(t)
	s, err := Parse("wire.yaml", fmt.Appendf(nil, `version: 1
name: wide
seed: 3
duration: 6s
drain: 5s
link: {engine: wire, server_command: %s}
target: {broker: "tcp://10.78.0.1:1883"}
groups:
  - name: d
    count: 2000
    connect: {rate: 500/s, timeout: 20s}
    telemetry: {every: 30s, qos: 0}
`, cmd))
	if err != nil {
		t.Fatal(err)
	}
	rec := newLatencies()
	runOpened(t, s, 3, rec)
	if n := len(rec.kinds[sim.Connected]); n != 2000 {
		t.Errorf("%d devices connected, want 2000 (%d failures)", n, rec.failed)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	peers := map[string]bool{}
	for _, m := range regexp.MustCompile(`New client connected from (10\.77\.\d+\.\d+):\d+`).FindAllStringSubmatch(string(data), -1) {
		peers[m[1]] = true
	}
	if len(peers) != 2000 {
		t.Errorf("Mosquitto saw %d distinct peers, want 2000; log starts:\n%.2000s", len(peers), data)
	}
}

// A wire run removes what it made, and the namespaces of a killed run.
func TestWireRunLeavesNoNamespaces(t *testing.T) {
	rootonly.Need(t)
	s, err := Parse("wire.yaml", []byte(`version: 1
name: clean
seed: 2
duration: 1s
link: {engine: wire}
groups:
  - {name: d, count: 5, telemetry: {every: 200ms, qos: 1}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := newLatencies()
	runOpened(t, s, 2, rec)
	if n := len(rec.kinds[sim.Acked]); n < 10 {
		t.Errorf("%d acks against the embedded broker in the server namespace, want >= 10", n)
	}
	entries, _ := os.ReadDir("/run/netns")
	prefix := fmt.Sprintf("%s%d-", kernel.NamePrefix, os.Getpid())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
}

// CoAP over UDP meets the same loss under either engine: each datagram is
// one packet on the wire and one shaped datagram in the socket, drawn
// from the same seeded stream per device and direction, so CoAP's own
// retransmissions agree.
func TestWireCoAPRetransmitsMatchTheSocketEngine(t *testing.T) {
	rootonly.Need(t)
	run := func(engine string) *latencies {
		s, err := Parse("coap.yaml", fmt.Appendf(nil, `version: 1
name: coapwire
seed: 21
duration: 4s
drain: 4s
link: {engine: %s}
groups:
  - name: s
    protocol: coap
    count: 20
    coap: {ack_timeout: 300ms, max_retransmit: 2}
    link: {up: "loss 10%%", down: "loss 10%%"}
    telemetry: {every: 250ms, path: "/s/{{index}}"}
`, engine))
		if err != nil {
			t.Fatal(err)
		}
		rec := newLatencies()
		start := time.Now()
		runOpened(t, s, 21, rec)
		t.Logf("%s took %v", engine, time.Since(start))
		return rec
	}
	sock, wire := run(EngineSocket), run(EngineWire)
	rs, rw := sock.counts["coap_retransmit"], wire.counts["coap_retransmit"]
	as, aw := len(sock.kinds[sim.Acked]), len(wire.kinds[sim.Acked])
	t.Logf("socket: %d acked, %d retransmits; wire: %d acked, %d retransmits, %d dropped by the wire", as, rs, aw, rw, wire.counts[MetricWireDropped])
	if as < 250 || aw < 250 {
		t.Fatalf("acked %d (socket), %d (wire): want >= 250 each", as, aw)
	}
	// At 10 % each way an exchange is retransmitted with p = 0.19: about
	// 60 of 320. Timing decides which report meets which draw, so the
	// counts agree as two samples of one binomial: within 3 standard
	// deviations of their difference, sqrt(2 n p (1-p)).
	tol := 3 * math.Sqrt(2*float64(as)*0.19*0.81)
	if d := math.Abs(float64(rs - rw)); rs == 0 || rw == 0 || d > tol {
		t.Errorf("coap_retransmit: socket %d, wire %d: want both > 0 and within %.0f", rs, rw, tol)
	}
	if wire.counts[MetricWireDropped] == 0 {
		t.Errorf("the wire counted no dropped packets at 10%% loss")
	}
}

// Every protocol crosses the wire to its embedded server in the server
// namespace, the MQTT group over TLS (the broker's certificate names the
// wire's server address), each connection from the device's own address.
func TestWireEveryProtocolToEmbeddedServers(t *testing.T) {
	rootonly.Need(t)
	s, err := Parse("mix.yaml", []byte(`version: 1
name: mix
seed: 3
duration: 3s
drain: 5s
link: {engine: wire}
target: {broker: embedded, tls: {}}
groups:
  - {name: m, count: 4, link: {up: "delay 30ms", down: "delay 30ms"}, telemetry: {every: 500ms, qos: 1}}
  - {name: h, protocol: http, count: 4, link: {up: "delay 30ms", down: "delay 30ms"}, telemetry: {every: 500ms}}
  - {name: w, protocol: websocket, count: 4, telemetry: {every: 500ms}}
  - {name: l, protocol: lwm2m, count: 4, telemetry: {every: 1s}}
  - {name: c, protocol: coap, count: 4, telemetry: {every: 500ms}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := newLatencies()
	runOpened(t, s, 3, rec)
	if n := len(rec.kinds[sim.Connected]); n != 20 || rec.failed != 0 {
		t.Errorf("%d devices connected, %d failures: want 20 and none", n, rec.failed)
	}
	if n := rec.counts["tls_full_handshake"]; n != 4 {
		t.Errorf("%d TLS handshakes, want 4 (the MQTT group)", n)
	}
	// MQTT, HTTP and WebSocket devices hold TCP connections: 12 RTTs,
	// those of the delayed groups at least 60 ms.
	rtts := rec.named[MetricTCPRTT]
	slow := 0
	for _, d := range rtts {
		if d >= 60*time.Millisecond {
			slow++
		}
	}
	if len(rtts) != 12 || slow != 8 {
		t.Errorf("tcp_rtt %v: want 12, 8 of them >= 60 ms", rtts)
	}
}

// A link.server_command that exits before it serves fails Open with its
// output, and Open removes the wire it made.
func TestWireServerCommandThatExitsFailsOpen(t *testing.T) {
	rootonly.Need(t)
	s, err := Parse("bad.yaml", []byte(`version: 1
name: bad
duration: 1s
link: {engine: wire, server_command: [sh, -c, "echo no broker here; exit 3"]}
target: {broker: "tcp://10.78.0.1:1883"}
groups:
  - {name: d, count: 2, telemetry: {every: 1s}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Open(t.Context(), s, 1, nil)
	if err == nil {
		rt.Close()
		t.Fatal("Open succeeded, want the server command's failure")
	}
	for _, want := range []string{"link.server_command sh -c", "exited (exit status 3) before serving tcp 10.78.0.1:1883", "no broker here"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open = %v, want it to say %q", err, want)
		}
	}
	entries, _ := os.ReadDir("/run/netns")
	prefix := fmt.Sprintf("%s%d-", kernel.NamePrefix, os.Getpid())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Errorf("namespace %s left behind after the failed Open", e.Name())
		}
	}
}

// A broker restart under the wire: the restarted broker listens in the
// server namespace again, so every device reconnects across the wire.
func TestWireBrokerRestart(t *testing.T) {
	rootonly.Need(t)
	s, err := Parse("restart.yaml", []byte(`version: 1
name: restart
duration: 4s
drain: 5s
link: {engine: wire}
target: {broker: embedded, restart: {at: [1500ms], down: 300ms}}
groups:
  - {name: m, count: 10, reconnect: {backoff: fixed, initial: 200ms}, telemetry: {every: 500ms, qos: 1}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Open(t.Context(), s, 9, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rt.Close()
	rec := newLatencies()
	e, err := sim.New(s.Plan(), sim.Options{Connector: rt.Connector, Receiver: rt.Receiver, Sender: rt.Sender, Recorder: rec, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	origin := time.Now()
	stop := rt.StartRestarts(s, func() time.Duration { return time.Since(origin) }, rec, nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := e.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	stop()
	if n := len(rec.kinds[sim.Connected]); n != 20 || rec.counts[report.CounterBrokerRestart] != 1 {
		t.Errorf("%d connects, %d restarts: want each of the 10 devices to connect again after the one restart",
			n, rec.counts[report.CounterBrokerRestart])
	}
}

// link.engine kernel: a rate-only link is an HTB class per device, so an
// 8 KiB report at 64 kbit/s takes its serialisation time (less HTB's
// burst of one frame) to be acknowledged; a delay needs netem, and on a
// kernel without it Open says so in one sentence before any device
// starts.
func TestKernelEngineRateAndMissingNetem(t *testing.T) {
	rootonly.Need(t)
	s, err := Parse("k.yaml", []byte(`version: 1
name: k
duration: 5s
drain: 5s
link: {engine: kernel}
groups:
  - {name: slow, count: 4, link: {up: "rate 64kbit", down: "rate 64kbit"}, telemetry: {every: 2s, qos: 1, size: 8KiB}}
  - {name: fast, count: 4, telemetry: {every: 2s, qos: 1, size: 8KiB}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec := newLatencies()
	runOpened(t, s, 4, rec)
	acks := rec.kinds[sim.Acked]
	if len(acks) < 16 || rec.failed != 0 {
		t.Fatalf("%d acks, %d failures: want every report acknowledged", len(acks), rec.failed)
	}
	// 8 KiB at 64 kbit/s, less the bursts HTB lets through: over 600 ms on the
	// slow group's uplink; the fast group's take a few ms.
	slow := 0
	for _, d := range acks {
		if d >= 600*time.Millisecond {
			slow++
		}
	}
	if slow < len(acks)/2-2 || slow > len(acks)/2+2 {
		t.Errorf("%d of %d acks took >= 600 ms: want about half, the rate-limited group's (%v)", slow, len(acks), acks)
	}

	delayed, err := Parse("d.yaml", []byte(`version: 1
name: d
duration: 1s
link: {engine: kernel}
groups:
  - {count: 2, link: {up: "delay 100ms"}, telemetry: {every: 1s}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Open(t.Context(), delayed, 1, nil)
	if kernel.NetemAvailable() == nil {
		if err != nil {
			t.Fatalf("Open with netem available: %v", err)
		}
		rt.Close()
		return
	}
	if err == nil {
		rt.Close()
		t.Fatal("Open with a delay on a kernel without netem succeeded")
	}
	if want := "lacks the netem qdisc (sch_netem), so delay and loss need link.engine: wire"; !strings.Contains(err.Error(), want) {
		t.Errorf("Open error %q, want the sentence %q", err, want)
	}
}
