package sim

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// tally is a Recorder that keeps every event.
type tally struct {
	mu sync.Mutex
	ev []Event
}

func (t *tally) Record(e Event) {
	t.mu.Lock()
	t.ev = append(t.ev, e)
	t.mu.Unlock()
}

func (t *tally) count(k EventKind) int {
	return t.countIf(func(e Event) bool { return e.Kind == k })
}

// countIf counts the events f accepts.
func (t *tally) countIf(f func(Event) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, e := range t.ev {
		if f(e) {
			n++
		}
	}
	return n
}

func (t *tally) latencies(k EventKind) []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var l []time.Duration
	for _, e := range t.ev {
		if e.Kind == k {
			l = append(l, e.Latency)
		}
	}
	return l
}

func meterPlan(devices int, every, duration time.Duration, qos byte) *Plan {
	return &Plan{
		Name: "test", Seed: 7, Duration: duration, Drain: 5 * time.Second,
		Groups: []Group{{
			Name: "meters", Count: devices, ClientID: MustTemplate("m-{{index}}"),
			Connect:   Connect{Rate: Rate{Freq: 1000, Per: time.Second}, KeepAlive: 60 * time.Second},
			Reconnect: Backoff{Policy: BackoffFixed, Initial: time.Second},
			Telemetry: &Telemetry{Every: every, Topic: MustTemplate("m/{{id}}/up"),
				Payload: MustTemplate(`{"seq":{{seq}},"v":{{rand}},"m":"{{track}}"}`), Size: 64, QoS: qos},
		}},
	}
}

func run(t *testing.T, p *Plan, b *fakeBroker, ctx context.Context) *tally {
	t.Helper()
	rec := &tally{}
	e, err := New(p, Options{Connector: b, Receiver: b, Sender: b, Recorder: rec, Shards: 2})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := e.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rec
}

func TestEngineTelemetryIsTimedEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(5 * time.Millisecond)
		rec := run(t, meterPlan(100, time.Second, 10*time.Second, 1), b, t.Context())
		sent, acked, delivered := rec.count(Published), rec.count(Acked), rec.count(Delivered)
		if sent < 900 || sent > 1000 {
			t.Errorf("published %d, want 900..1000 (100 devices x 1/s x ~10s)", sent)
		}
		if acked != sent || delivered != sent {
			t.Errorf("published %d, acked %d, delivered %d: want all equal", sent, acked, delivered)
		}
		for _, l := range rec.latencies(Delivered) {
			if d := l - 5*time.Millisecond; d < 0 || d >= time.Microsecond {
				t.Fatalf("end-to-end latency %v, want the broker's 5ms (to the token's 1us)", l)
			}
		}
		if n := rec.count(Closed); n != 100 {
			t.Errorf("closed %d sessions at the end, want 100", n)
		}
		if b.connected() != 0 {
			t.Errorf("%d sessions left open", b.connected())
		}
	})
}

// A stalled broker must not slow the schedule, and the stall must show in
// the latencies measured from the intended send times.
func TestEngineStallIsMeasuredNotHidden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		time.AfterFunc(3*time.Second, func() { b.hold(2 * time.Second) })
		rec := run(t, meterPlan(50, 100*time.Millisecond, 8*time.Second, 1), b, t.Context())
		perSecond := map[int]int{}
		rec.mu.Lock()
		for _, e := range rec.ev {
			if e.Kind == Published {
				perSecond[int(e.At/time.Second)]++
			}
		}
		rec.mu.Unlock()
		for s := 1; s < 7; s++ {
			if perSecond[s] != 500 {
				t.Errorf("second %d: %d sends, want 500 whatever the broker does (%v)", s, perSecond[s], perSecond)
			}
		}
		l := rec.latencies(Delivered)
		worst := slices.Max(l)
		if worst < 2*time.Second-10*time.Millisecond || worst > 2*time.Second+10*time.Millisecond {
			t.Errorf("worst end-to-end %v, want the 2s stall plus the hop", worst)
		}
		late := 0
		for _, d := range l {
			if d > time.Second {
				late++
			}
		}
		// Sends intended in [3s, 4s) waited over 1s: 50 devices x 10/s.
		if late < 500 {
			t.Errorf("%d deliveries over 1s, want >= 500: the stall is hidden", late)
		}
	})
}

func publishLog(t *testing.T, seed uint64) []string {
	var log []string
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(20, 500*time.Millisecond, 5*time.Second, 0)
		p.Seed = seed
		p.Groups[0].Telemetry.Jitter = 100 * time.Millisecond
		run(t, p, b, t.Context())
		log = slices.Clone(b.log)
	})
	slices.Sort(log)
	return log
}

func TestEngineSameSeedSameSchedule(t *testing.T) {
	a, b, c := publishLog(t, 7), publishLog(t, 7), publishLog(t, 8)
	if len(a) < 150 {
		t.Fatalf("only %d publishes", len(a))
	}
	if !slices.Equal(a, b) {
		t.Errorf("two runs with seed 7 differ: %d vs %d publishes", len(a), len(b))
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 7 and 8 gave identical schedules and payloads")
	}
}

func TestEngineReconnectsAfterLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		time.AfterFunc(3*time.Second, b.dropAll)
		rec := run(t, meterPlan(40, time.Second, 8*time.Second, 1), b, t.Context())
		if n := rec.count(Disconnected); n != 40 {
			t.Errorf("disconnected %d, want 40", n)
		}
		if n := rec.count(Reconnecting); n != 40 {
			t.Errorf("reconnect attempts %d, want 40", n)
		}
		if n := rec.count(Connected); n != 80 {
			t.Errorf("connects %d, want 80 (40 + 40 reconnects)", n)
		}
		// Each device's connections are numbered apart, so a shaped link
		// draws afresh for the reconnect.
		b.mu.Lock()
		defer b.mu.Unlock()
		if seen := len(slices.Compact(slices.Sorted(slices.Values(b.conns)))); len(b.conns) != 80 || seen < 2 {
			t.Errorf("connection numbers %v: want 80, first connects and reconnects numbered apart", b.conns)
		}
	})
}

func TestEngineRefusedConnectBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		b.refuse = true
		p := meterPlan(1, time.Second, 10*time.Second, 0)
		p.Groups[0].Reconnect = Backoff{Policy: BackoffExponential, Initial: time.Second, Max: 4 * time.Second}
		rec := run(t, p, b, t.Context())
		// Attempts at 0, 1, 3, 7 s (waits 1, 2, 4): four failures in 10 s.
		if n := rec.count(ConnectFailed); n != 4 {
			t.Errorf("connect failures %d, want 4 with exponential 1s..4s backoff", n)
		}
		if n := rec.count(PublishFailed); n != 0 {
			t.Errorf("%d publish failures before the first connect, want 0", n)
		}
	})
}

func TestEngineStagesRampUpAndDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(100, time.Second, 15*time.Second, 0)
		p.Stages = []Stage{{Duration: 5 * time.Second, Devices: 50}, {Duration: 5 * time.Second, Devices: 100}, {Duration: 5 * time.Second, Devices: 0}}
		var mu sync.Mutex
		samples := map[time.Duration]int{}
		for _, s := range []time.Duration{2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 12500 * time.Millisecond} {
			time.AfterFunc(s+time.Millisecond, func() {
				mu.Lock()
				samples[s] = b.connected()
				mu.Unlock()
			})
		}
		rec := run(t, p, b, t.Context())
		want := map[time.Duration]int{2500 * time.Millisecond: 25, 5 * time.Second: 50, 10 * time.Second: 100, 12500 * time.Millisecond: 50}
		mu.Lock()
		defer mu.Unlock()
		for s, w := range want {
			if got := samples[s]; got < w-2 || got > w+1 {
				t.Errorf("at %v: %d connected, want %d +/- 2", s, got, w)
			}
		}
		if n := rec.count(Connected); n != 100 {
			t.Errorf("%d connects, want each of the 100 devices once", n)
		}
		if n := rec.count(Closed); n != 100 {
			t.Errorf("closed %d, want 100 (the ramp-down closes each once)", n)
		}
	})
}

func TestEngineCommandsAndRequestsRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(5 * time.Millisecond)
		p := meterPlan(10, time.Second, 10*time.Second, 1)
		g := &p.Groups[0]
		g.Commands = &Exchange{Every: 2 * time.Second, Topic: MustTemplate("m/{{id}}/cmd"),
			ReplyTopic: MustTemplate("m/{{id}}/cmd/re"), Payload: MustTemplate(`{"c":"{{track}}"}`), QoS: 1}
		g.Requests = &Exchange{Every: 3 * time.Second, Topic: MustTemplate("m/{{id}}/req"),
			ReplyTopic: MustTemplate("m/{{id}}/req/re"), Payload: MustTemplate(`{"r":"{{track}}"}`), QoS: 1}
		rec := run(t, p, b, t.Context())
		if s, r := rec.count(CommandSent), rec.count(CommandReplied); s < 40 || r != s {
			t.Errorf("commands sent %d, replied %d: want >= 40 and all replied", s, r)
		}
		if s, r := rec.count(RequestSent), rec.count(RequestAnswered); s < 25 || r != s {
			t.Errorf("requests sent %d, answered %d: want >= 25 and all answered", s, r)
		}
		for _, k := range []EventKind{CommandReplied, RequestAnswered} {
			for _, l := range rec.latencies(k) {
				if d := l - 10*time.Millisecond; d < 0 || d >= time.Microsecond {
					t.Fatalf("%v round trip %v, want two 5ms hops (to the token's 1us)", k, l)
				}
			}
		}
		if d := rec.count(Delivered); d != rec.count(Published) {
			t.Errorf("telemetry: delivered %d of %d; replies or requests were mistaken for telemetry?", d, rec.count(Published))
		}
	})
}

func TestEngineInterruptDrainsAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(50 * time.Millisecond)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(3*time.Second, cancel)
		start := time.Now()
		rec := run(t, meterPlan(30, 100*time.Millisecond, time.Hour, 1), b, ctx)
		if el := time.Since(start); el > 3*time.Second+time.Second {
			t.Errorf("Run returned after %v, want soon after the 3s interrupt", el)
		}
		if s, d := rec.count(Published), rec.count(Delivered); s == 0 || d != s {
			t.Errorf("published %d, delivered %d: the drain lost in-flight messages", s, d)
		}
		if b.connected() != 0 {
			t.Errorf("%d sessions open after Run", b.connected())
		}
	})
}

func TestNewRefusesExchangesWithoutBackend(t *testing.T) {
	p := meterPlan(1, time.Second, time.Second, 0)
	p.Groups[0].Commands = &Exchange{Every: time.Second, Topic: MustTemplate("c/{{id}}"), ReplyTopic: MustTemplate("r/{{id}}"), Payload: MustTemplate("x")}
	if _, err := New(p, Options{Connector: newFakeBroker(0)}); err == nil {
		t.Fatal("New with commands and no backend: want an error")
	}
}

// Jitter can put a device's first slot before it connected; that slot
// must be skipped, not sent late with a latency counted from before the
// device existed (or from a negative time).
func TestEngineFirstSlotNeverBeforeConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(500, 10*time.Second, 25*time.Second, 0)
		p.Groups[0].Telemetry.Jitter = 2 * time.Second
		p.Groups[0].Connect.Rate = Rate{Freq: 20, Per: time.Second}
		rec := run(t, p, b, t.Context())
		l := rec.latencies(Delivered)
		if len(l) < 500 {
			t.Fatalf("%d deliveries, want >= 500", len(l))
		}
		for _, d := range l {
			if d < 0 || d > 2*time.Millisecond {
				t.Fatalf("end-to-end %v, want the 1ms hop: a slot before the connect was sent late", d)
			}
		}
		if lag := slices.Max(rec.latencies(Published)); lag != 0 {
			t.Errorf("schedule lag up to %v under a fake clock, want 0", lag)
		}
	})
}

func TestEngineBoundsUnacknowledgedMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		b.noAck = true
		p := meterPlan(1, 100*time.Millisecond, 5*time.Second, 1)
		p.Drain = 100 * time.Millisecond
		rec := run(t, p, b, t.Context())
		if n := rec.count(Published); n != maxInflight {
			t.Errorf("published %d with no acks coming back, want the in-flight cap %d", n, maxInflight)
		}
		rec.mu.Lock()
		full := 0
		for _, e := range rec.ev {
			if e.Kind == PublishFailed && e.Err == errInflightFull {
				full++
			}
		}
		rec.mu.Unlock()
		if full < 25 {
			t.Errorf("%d sends refused as %s, want the ~30 past the cap", full, errInflightFull)
		}
	})
}

// Per-report devices hold no connection between reports: each report
// wakes its device, which connects, sends, waits for the ack and sleeps.
func TestEnginePerReportConnectsForEachReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(5 * time.Millisecond)
		p := meterPlan(50, 2*time.Second, 10*time.Second, 1)
		p.Groups[0].Connect.PerReport = true
		peak := 0
		tick := time.NewTicker(time.Millisecond)
		stop := make(chan struct{})
		var mu sync.Mutex
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					mu.Lock()
					peak = max(peak, b.connected())
					mu.Unlock()
				}
			}
		}()
		rec := run(t, p, b, t.Context())
		close(stop)
		tick.Stop()
		sent, conns := rec.count(Published), rec.count(Connected)
		// A device woken in the run's last instant may be closed by the
		// end of the run before it sends.
		if sent < 200 || conns < sent || conns > sent+2 {
			t.Errorf("published %d with %d connects: want >= 200 and one connect per report", sent, conns)
		}
		if closed := rec.count(Closed); closed != conns {
			t.Errorf("closed %d of %d sessions: every wake must end asleep", closed, conns)
		}
		if w := rec.count(Woke); w < conns-1 || w > conns {
			t.Errorf("%d wake events for %d connects, want one per wake", w, conns)
		}
		for _, slept := range rec.latencies(Woke) {
			if slept < 0 || slept > 2*time.Second {
				t.Errorf("slept %v between reports 2 s apart, want within 0..2s", slept)
			}
		}
		if d := rec.count(Delivered); d != sent {
			t.Errorf("delivered %d of %d", d, sent)
		}
		for _, l := range rec.latencies(Delivered) {
			if l < 5*time.Millisecond || l > 6*time.Millisecond {
				t.Fatalf("end-to-end %v, want the 5ms hop from the intended time", l)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		// 50 devices x 0.5 reports/s, each connected for one 5ms ack round trip.
		if peak > 10 {
			t.Errorf("up to %d devices connected at once, want a handful", peak)
		}
		if b.connected() != 0 {
			t.Errorf("%d sessions left open", b.connected())
		}
	})
}

func TestEnginePerReportRetriesAFailedWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		b.refuse = true
		time.AfterFunc(2500*time.Millisecond, func() {
			b.mu.Lock()
			b.refuse = false
			b.mu.Unlock()
		})
		p := meterPlan(1, 10*time.Second, 9*time.Second, 1)
		p.Groups[0].Telemetry.Aligned = true
		p.Groups[0].Connect.PerReport = true
		rec := run(t, p, b, t.Context())
		// The report due at 0 waits through failed wakes at 0, 1 and 2 s
		// and goes out on the attempt at 3 s.
		if f, s := rec.count(ConnectFailed), rec.count(Published); f != 3 || s != 1 {
			t.Errorf("%d failed wakes and %d reports, want 3 and 1", f, s)
		}
		if l := rec.latencies(Delivered); len(l) != 1 || l[0] < 3*time.Second || l[0] > 3*time.Second+2*time.Millisecond {
			t.Errorf("end-to-end %v, want the 3s the report waited for its device to wake", l)
		}
	})
}

// Requests render {{rand}} from the device's random source like
// telemetry does (they share one send path).
func TestEngineRequestPayloadRand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(3, time.Hour, 5*time.Second, 0)
		p.Groups[0].Requests = &Exchange{Every: time.Second, Topic: MustTemplate("q/{{id}}"),
			ReplyTopic: MustTemplate("q/{{id}}/a"), Payload: MustTemplate(`{"v":{{rand}},"m":"{{track}}"}`)}
		run(t, p, b, t.Context())
		zero, n := 0, 0
		for _, l := range b.log {
			if strings.HasPrefix(l, "q/") {
				n++
				if strings.Contains(l, `"v":0.00,`) {
					zero++
				}
			}
		}
		if n < 10 || zero == n {
			t.Errorf("%d of %d request payloads render {{rand}} as 0.00", zero, n)
		}
	})
}

// A per-report device's wake-up is not generator lag.
func TestEnginePerReportWakeIsNotScheduleLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		b.refuse = true
		time.AfterFunc(1500*time.Millisecond, func() {
			b.mu.Lock()
			b.refuse = false
			b.mu.Unlock()
		})
		p := meterPlan(5, 10*time.Second, 5*time.Second, 0)
		p.Groups[0].Connect.PerReport = true
		rec := run(t, p, b, t.Context())
		if lag := rec.latencies(Published); len(lag) == 0 || slices.Max(lag) != 0 {
			t.Errorf("schedule lag %v under a fake clock, want 0 whatever the wake took", lag)
		}
	})
}

// Bursts add Count reports Spacing apart at Poisson times, on top of the
// periodic ones.
func TestEngineBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(200, time.Hour, 2*time.Hour, 0)
		p.Groups[0].Telemetry.Bursts = &Bursts{Every: 10 * time.Minute, Count: 3, Spacing: time.Second}
		rec := run(t, p, b, t.Context())
		// 200 devices: 2 periodic reports each, and about 12 bursts of 3.
		want := 200*2 + 200*12*3
		if got := rec.count(Published); got < want*9/10 || got > want*11/10 {
			t.Errorf("published %d, want about %d (periodic plus bursts)", got, want)
		}
		if d := rec.count(Delivered); d != rec.count(Published) {
			t.Errorf("delivered %d of %d", d, rec.count(Published))
		}
		// Within a burst, reports leave 1 s apart: count sends 1 s after
		// another send of the same device from the broker's log order.
		byDev := map[uint32][]time.Duration{}
		for _, l := range b.log {
			if tok, ok := FindToken([]byte(l)); ok {
				byDev[tok.Device] = append(byDev[tok.Device], tok.Intended)
			}
		}
		spaced := 0
		for _, at := range byDev {
			slices.Sort(at)
			for i := 1; i < len(at); i++ {
				if at[i]-at[i-1] == time.Second {
					spaced++
				}
			}
		}
		if bursts := (rec.count(Published) - 400) / 3; spaced < bursts*2*9/10 {
			t.Errorf("%d sends 1 s after the previous one, want 2 per burst (about %d)", spaced, bursts*2)
		}
	})
}
