package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
	"github.com/m2msim/m2msim/transports/netem"
	"github.com/m2msim/m2msim/transports/radio"
)

func mosquittoScenario(addr, body string) string {
	return fmt.Sprintf("version: 1\nname: mosq\nseed: 3\ntarget: {broker: tcp://%s}\n%s", addr, body)
}

func TestRunAgainstMosquittoAllQoS(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	s := mosquittoScenario(m.Addr(), `duration: 3s
drain: 3s
groups:
  - {name: q0, count: 30, connect: {rate: 1000/s}, telemetry: {every: 250ms, qos: 0}}
  - {name: q1, count: 30, connect: {rate: 1000/s}, telemetry: {every: 250ms, qos: 1}, commands: {every: 1s, qos: 1}}
  - {name: q2, count: 30, connect: {rate: 1000/s}, telemetry: {every: 250ms, qos: 2}, requests: {every: 1s, qos: 2}}
`)
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s%s", code, stdout, errs)
	}
	r := readResult(t, out)
	if r.Devices.ConnectedMax != 90 || r.Messages.Sent < 900 || r.Messages.Lost != 0 {
		t.Errorf("devices %+v messages %+v: want 90 connected, >= 900 sent, none lost", r.Devices, r.Messages)
	}
	// Acks exist for the QoS 1 and 2 groups only: two thirds of the sends.
	if a := r.LatencyMS.Ack.Count; a < r.Messages.Sent/2 || a >= r.Messages.Sent {
		t.Errorf("acks %d of %d sends, want the QoS 1/2 two thirds", a, r.Messages.Sent)
	}
	if r.Commands.Sent == 0 || r.Commands.Replied != r.Commands.Sent || r.Requests.Sent == 0 || r.Requests.Answered != r.Requests.Sent {
		t.Errorf("commands %+v requests %+v: want all answered", r.Commands, r.Requests)
	}
}

// A broker that stops making progress for 2 s must show up as a 2 s tail
// in latencies measured from the intended send times, and must not slow
// the schedule (no coordinated omission).
//
// Mosquitto queues at most max_queued_messages (default 1000) for a
// subscriber; the 2 s backlog released at once exceeds that, and the
// broker would rightly be reported as losing messages. The test raises it
// so that what it checks is the timing, not the queue.
func TestRunMosquittoStallIsMeasured(t *testing.T) {
	m := mqtttest.StartMosquitto(t, mqtttest.WithConfig("max_queued_messages 100000"))
	s := mosquittoScenario(m.Addr(), `duration: 6s
drain: 5s
groups:
  - {name: m, count: 100, connect: {rate: 2000/s}, telemetry: {every: 100ms, qos: 1}}
`)
	time.AfterFunc(2*time.Second, func() {
		m.Pause()
		time.AfterFunc(2*time.Second, m.Resume)
	})
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s%s", code, stdout, errs)
	}
	r := readResult(t, out)
	if r.LatencyMS.E2E.Max < 1800 {
		t.Errorf("e2e max %.1f ms, want the ~2000 ms stall", r.LatencyMS.E2E.Max)
	}
	if r.LatencyMS.Ack.P99.V < 1000 {
		t.Errorf("ack p99 %.1f ms: a 2 s stall over a third of the run must reach p99", r.LatencyMS.Ack.P99.V)
	}
	// 100 devices x 10/s: the sends per second hold through the stall.
	sent := r.Series.Sent
	if len(sent) < 5 {
		t.Fatalf("series too short: %v", sent)
	}
	if lo := slices.Min(sent[1:5]); lo < 900 {
		t.Errorf("sends per second %v: the schedule slowed during the stall", sent)
	}
	if r.Messages.Lost != 0 {
		t.Errorf("lost %d after the stall, want 0 (QoS 1 and a long enough drain)", r.Messages.Lost)
	}
}

func TestRunMosquittoRestartReconnects(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	s := mosquittoScenario(m.Addr(), `duration: 6s
groups:
  - name: m
    count: 40
    connect: {rate: 1000/s}
    reconnect: {backoff: fixed, initial: 500ms}
    telemetry: {every: 200ms, qos: 1}
`)
	time.AfterFunc(2*time.Second, m.Restart)
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s%s", code, stdout, errs)
	}
	r := readResult(t, out)
	if r.Devices.Disconnects < 40 || r.Devices.Reconnects < 40 || r.Devices.Connects < 80 {
		t.Errorf("devices %+v: want every device to lose its connection and come back", r.Devices)
	}
	if c := r.Series.Connected; len(c) == 0 || c[len(c)-1] != 40 && c[len(c)-2] != 40 {
		t.Errorf("connected series %v: want all 40 back by the end", c)
	}
}

// The foundation's capacity target: 10,000 devices in one process against
// Mosquitto, 2,000 msg/s QoS 1 aggregate, nothing lost.
func TestRunMosquitto10kDevices(t *testing.T) {
	if testing.Short() {
		t.Log("-short: running 2,000 devices instead of 10,000")
	}
	n, every := 10000, "5s"
	if testing.Short() {
		n, every = 2000, "1s"
	}
	m := mqtttest.StartMosquitto(t)
	s := mosquittoScenario(m.Addr(), fmt.Sprintf(`duration: 20s
drain: 10s
groups:
  - {name: m, count: %d, connect: {rate: 2000/s, keepalive: 60s}, telemetry: {every: %s, qos: 1, size: 64B}}
thresholds:
  - "connect.success == 100%%"
  - "messages.lost == 0"
`, n, every))
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s%s", code, stdout, errs)
	}
	r := readResult(t, out)
	if r.Devices.ConnectedMax != int64(n) || r.Messages.Lost != 0 || r.Messages.Sent < int64(n)*2 {
		t.Errorf("devices %+v messages %+v: want %d connected, nothing lost", r.Devices, r.Messages, n)
	}
	t.Logf("10k: connect p99 %.2f ms, ack p99 %.2f ms, e2e p50 %.2f p99 %.2f max %.2f ms, sent %d",
		r.LatencyMS.Connect.P99.V, r.LatencyMS.Ack.P99.V, r.LatencyMS.E2E.P50.V, r.LatencyMS.E2E.P99.V, r.LatencyMS.E2E.Max, r.Messages.Sent)
	if !strings.Contains(stdout, "devices") {
		t.Errorf("summary missing:\n%s", stdout)
	}
	_ = report.StatusPassed
}

// Per-report devices sleep without a connection; with a persistent
// session the broker holds their commands until the next wake, so a
// command's round trip includes the wait for the device, as with PSM.
func TestRunMosquittoPerReportStoreAndForward(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	s := mosquittoScenario(m.Addr(), `duration: 10s
drain: 3s
groups:
  - name: meters
    count: 50
    connect: {rate: 1000/s, mode: per-report, linger: 200ms, clean_session: false}
    telemetry: {every: 2s, qos: 1}
    commands: {every: 3s, qos: 1}
`)
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s%s", code, stdout, errs)
	}
	r := readResult(t, out)
	if r.Messages.Sent < 200 || r.Messages.Lost != 0 {
		t.Errorf("messages %+v: want >= 200 sent, none lost", r.Messages)
	}
	if c := r.Devices.Connects; c < r.Messages.Sent || c > r.Messages.Sent+50 {
		t.Errorf("%d connects for %d reports: want one wake per report", c, r.Messages.Sent)
	}
	if r.Devices.ConnectedMax >= 50 {
		t.Errorf("connected_max %d: sleeping devices must not hold connections", r.Devices.ConnectedMax)
	}
	// Commands sent in the last 2 s wait for a wake that never comes.
	if r.Commands.Sent == 0 || r.Commands.Replied*10 < r.Commands.Sent*6 {
		t.Errorf("commands %+v: want most replied after the broker held them", r.Commands)
	}
	if c := r.LatencyMS.Command; c.P50.V < 50 || c.Max > 2500 {
		t.Errorf("command round trip p50 %.1f ms max %.1f ms: want the wait for the next wake (under 2 s)", c.P50.V, c.Max)
	}
}

// PSM on a kept session, against Mosquitto: after each uplink a device
// stays connected 1 s, reachable 1 s more, then sleeps until its periodic
// TAU 8 s after going idle (a 9 s cycle). Commands wait at the device's
// side of the network for a wake; none longer than a cycle.
func TestRunMosquittoPSMCommandsWaitForWakes(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	r := runResult(t, mosquittoScenario(m.Addr(), `duration: 20s
drain: 12s
groups:
  - name: meters
    count: 100
    connect: {rate: 1000/s}
    sleep: {inactivity: 1s, psm: {active: 1s, tau: 8s}}
    telemetry: {every: 1m, qos: 1}
    commands: {every: 5s, jitter: 2s, qos: 1}
`))
	c, g := r.LatencyMS.Command, r.Groups[0].Radio
	t.Logf("commands %+v: round trip p50 %.0f ms, max %.0f ms; %d wakes, %.0f s asleep", r.Commands, c.P50.V, c.Max, g.Wakes, g.AsleepS)
	if r.Commands.Sent < 300 || r.Commands.Replied != r.Commands.Sent {
		t.Errorf("commands %+v: want >= 300, all replied", r.Commands)
	}
	// Uniform arrivals over the cycle: 7 s of 9 asleep, a mean wait near
	// 7/9 * 3.5 s = 2.7 s, so the median waits too.
	if c.P50.V < 1000 || c.Max > 9500 {
		t.Errorf("command round trip p50 %.0f ms, max %.0f ms: want most waiting for a wake, none past the 9 s cycle", c.P50.V, c.Max)
	}
	if g.DownlinkWaitMS.Count == 0 || g.Wakes == 0 || g.AsleepS < 100 {
		t.Errorf("group radio %+v: want held commands, wakes from PSM and time asleep", g)
	}
}

// Sigfox against Mosquitto: 12-byte reports carry the short token and are
// timed end to end: the 6 s on air plus the backhaul (50-300 ms).
func TestRunMosquittoSigfoxShortTokens(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	r := runResult(t, mosquittoScenario(m.Addr(), `duration: 20s
drain: 10s
groups:
  - name: tanks
    count: 50
    radio: sigfox
    connect: {rate: 1000/s}
    telemetry: {every: 20s, qos: 1, size: 12B}
`))
	e := r.LatencyMS.E2E
	t.Logf("messages %+v; e2e p50 %.0f ms, max %.0f ms; errors %v", r.Messages, e.P50.V, e.Max, r.Errors)
	if r.Messages.Sent < 40 || r.Messages.Received != r.Messages.Sent || e.Count != r.Messages.Received {
		t.Errorf("messages %+v, %d timed: want >= 40 sent, all received and timed", r.Messages, e.Count)
	}
	if e.P50.V < 6050 || e.P50.V > 6350 || e.Max > 6500 {
		t.Errorf("e2e p50 %.0f ms, max %.0f ms: want 6 s on air + 50-300 ms backhaul", e.P50.V, e.Max)
	}
	if len(r.Errors) != 0 {
		t.Errorf("errors %v, want none (no untimed, nothing too large)", r.Errors)
	}
}

func runResult(t *testing.T, s string) *report.Result {
	t.Helper()
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "run", writeScenario(t, s), "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s%s", code, stdout, errs)
	}
	return readResult(t, out)
}

func within(got, want, frac float64) bool { return got >= want*(1-frac) && got <= want*(1+frac) }

// A link of 50 ms each way moves PUBACK by one round trip and CONNACK by
// two (the TCP handshake, then CONNECT), measured against the same
// scenario unshaped.
func TestRunMosquittoLinkShiftsLatencies(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	body := `duration: 4s
groups:
  - name: d
    count: 200
    connect: {rate: 1000/s}
    telemetry: {every: 500ms, qos: 1}
%s`
	plain := runResult(t, mosquittoScenario(m.Addr(), fmt.Sprintf(body, "")))
	shaped := runResult(t, mosquittoScenario(m.Addr(), fmt.Sprintf(body, "    link: {up: delay 50ms, down: delay 50ms}\n")))
	ack := shaped.LatencyMS.Ack.P50.V - plain.LatencyMS.Ack.P50.V
	conn := shaped.LatencyMS.Connect.P50.V - plain.LatencyMS.Connect.P50.V
	t.Logf("ack p50 %.2f -> %.2f ms, connect p50 %.2f -> %.2f ms", plain.LatencyMS.Ack.P50.V, shaped.LatencyMS.Ack.P50.V,
		plain.LatencyMS.Connect.P50.V, shaped.LatencyMS.Connect.P50.V)
	if !within(ack, 100, 0.05) {
		t.Errorf("ack p50 moved %.2f ms, want one 100 ms round trip (+/- 5%%)", ack)
	}
	if !within(conn, 200, 0.05) {
		t.Errorf("connect p50 moved %.2f ms, want two 100 ms round trips (+/- 5%%)", conn)
	}
	if shaped.Messages.Lost != 0 {
		t.Errorf("lost %d through a lossless link", shaped.Messages.Lost)
	}
}

// 5,000 devices on the ltem profile in one process: every one connects
// and reports, and the PUBACK median sits at the profile's round trip.
func TestRunMosquittoLTEM5000Devices(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	r := runResult(t, mosquittoScenario(m.Addr(), `duration: 15s
drain: 10s
groups:
  - name: trackers
    count: 5000
    radio: ltem
    connect: {rate: 2000/s}
    telemetry: {every: 5s, qos: 1, size: 64B}
`))
	// ltem loses 0.5 % of packets in bursts; a lost SYN costs 1 s,
	// doubling, so a handful of the 5,000 connects may time out and retry.
	if r.Devices.ConnectedMax < 4975 || r.Messages.Sent < 10000 {
		t.Fatalf("devices %+v messages %+v: want 5000 devices connected and reporting", r.Devices, r.Messages)
	}
	// The profile's round trip for one report: an uplink and a downlink
	// delay draw, plus serialising the PUBLISH (2+2+32 topic+2+64 bytes)
	// and the PUBACK (4 bytes), each with 52 bytes of TCP/IP headers.
	p, err := radio.Lookup("ltem")
	if err != nil {
		t.Fatal(err)
	}
	tx := p.Link.Up.TxTime(102+52) + p.Link.Down.TxTime(4+52)
	rtt := ltemRTTMedian(t) + float64(tx)/1e6
	t.Logf("ltem %s / %s: ack p50 %.1f ms (profile round trip median %.1f ms, %v of it serialisation), p99 %.1f ms; connect p50 %.1f ms; lost %d",
		p.Link.Up, p.Link.Down, r.LatencyMS.Ack.P50.V, rtt, tx, r.LatencyMS.Ack.P99.V, r.LatencyMS.Connect.P50.V, r.Messages.Lost)
	if !within(r.LatencyMS.Ack.P50.V, rtt, 0.05) {
		t.Errorf("ack p50 %.1f ms, want the ltem round-trip median %.1f ms (+/- 5%%)", r.LatencyMS.Ack.P50.V, rtt)
	}
}

// ltemRTTMedian is the median of an uplink draw plus a downlink draw of
// the ltem profile's delay, from its own distribution (Monte Carlo).
func ltemRTTMedian(t *testing.T) float64 {
	t.Helper()
	p, err := radio.Lookup("ltem")
	if err != nil {
		t.Fatal(err)
	}
	draw := func(pr netem.Profile, u float64) float64 {
		return max(0, float64(pr.Delay)+pr.Distribution.Quantile(u)*float64(pr.Jitter)) / 1e6
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sums := make([]float64, 200_000)
	for i := range sums {
		sums[i] = draw(p.Link.Up, rng.Float64()) + draw(p.Link.Down, rng.Float64())
	}
	slices.Sort(sums)
	return sums[len(sums)/2]
}

// Credentials come from the environment variables the scenario names,
// reach the broker, and are never printed.
func TestRunMosquittoCredentialsFromEnvironment(t *testing.T) {
	m := mqtttest.StartMosquitto(t, mqtttest.WithUser("fleet", "s3cret-pw"))
	s := writeScenario(t, fmt.Sprintf(`version: 1
name: creds
duration: 1s
target: {broker: "tcp://%s", username_env: M2MSIM_T_USER, password_env: M2MSIM_T_PASS}
groups:
  - {name: d, count: 5, telemetry: {every: 200ms, qos: 1}}
`, m.Addr()))
	code, stdout, errs := cli(t, t.Context(), "run", s, "--out", t.TempDir())
	if code != exitUsage || !strings.Contains(errs, "M2MSIM_T_USER") {
		t.Errorf("run without the variables = exit %d, %q; want exit 2 naming $M2MSIM_T_USER", code, errs)
	}
	t.Setenv("M2MSIM_T_USER", "fleet")
	t.Setenv("M2MSIM_T_PASS", "wrong")
	code, stdout, errs = cli(t, t.Context(), "run", s, "--out", t.TempDir())
	if code != exitUsage || !strings.Contains(errs, "not authorized") {
		t.Errorf("run with a wrong password = exit %d, %q; want exit 2 and the broker's refusal", code, errs)
	}
	t.Setenv("M2MSIM_T_PASS", "s3cret-pw")
	out := t.TempDir()
	code, stdout, errs = cli(t, t.Context(), "run", s, "--out", out)
	if code != exitOK {
		t.Fatalf("run with credentials = exit %d\n%s%s", code, stdout, errs)
	}
	if r := readResult(t, out); r.Devices.ConnectedMax != 5 || r.Messages.Received == 0 {
		t.Errorf("devices %+v messages %+v: want all 5 connected and reporting", r.Devices, r.Messages)
	}
	if strings.Contains(stdout+errs, "s3cret-pw") {
		t.Errorf("the password appears in the output:\n%s%s", stdout, errs)
	}
}
