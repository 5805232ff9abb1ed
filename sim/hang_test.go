package sim

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// vendPlan is a fleet with all three flows: telemetry, requests the
// backend answers and commands the devices answer.
func vendPlan(devices int, duration time.Duration) *Plan {
	p := meterPlan(devices, 10*time.Second, duration, 1)
	g := &p.Groups[0]
	g.Requests = &Exchange{Every: 2 * time.Second, Jitter: 500 * time.Millisecond, QoS: 1,
		Topic: MustTemplate("q/{{id}}"), ReplyTopic: MustTemplate("a/{{id}}"), Payload: MustTemplate("{{track}}")}
	g.Commands = &Exchange{Every: 2 * time.Second, Jitter: 500 * time.Millisecond, QoS: 1,
		Topic: MustTemplate("c/{{id}}"), ReplyTopic: MustTemplate("r/{{id}}"), Payload: MustTemplate("{{track}}")}
	return p
}

// stuckBackend's Publish waits for room that never comes, as a backend
// whose broker stopped acknowledging does: it returns only when ctx ends.
type stuckBackend struct{ *fakeBroker }

func (stuckBackend) Publish(ctx context.Context, _ Outbound) error {
	<-ctx.Done()
	return ctx.Err()
}

func errCount(rec *tally, kind EventKind, err string) int {
	return rec.countIf(func(e Event) bool { return e.Kind == kind && e.Err == err })
}

// A backend that never completes a publish must not stop the fleet: the
// shards keep the schedule, deliveries keep being timed, every command and
// answer fails after its deadline, and Run ends on time.
func TestEngineStuckBackendBlocksNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := vendPlan(200, 20*time.Second)
		rec := &tally{}
		e, err := New(p, Options{Connector: b, Receiver: b, Sender: stuckBackend{b}, Recorder: rec, Shards: 2,
			BackendTimeout: 3 * time.Second, BackendQueue: 64})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := e.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if el, most := time.Since(start), p.Duration+p.Drain; el > most {
			t.Errorf("Run took %v, want at most the duration and drain, %v", el, most)
		}
		// 200 devices x (1 report / 10 s + 1 request / 2 s) over ~20 s.
		if n := rec.count(Published); n < 300 {
			t.Errorf("published %d reports, want ~400: the schedule stalled", n)
		}
		if n := rec.count(RequestSent); n < 1500 {
			t.Errorf("sent %d requests, want ~2000: the schedule stalled", n)
		}
		if d, s := rec.count(Delivered), rec.count(Published); d != s {
			t.Errorf("delivered %d of %d reports: the backend's receiving side must go on", d, s)
		}
		if n := rec.count(CommandSent) + rec.count(RequestAnswered); n != 0 {
			t.Errorf("%d commands or answers went through a backend that sends nothing", n)
		}
		timeouts, busy := errCount(rec, PublishFailed, "backend_timeout"), errCount(rec, PublishFailed, errBackendBusy)
		if timeouts == 0 || busy == 0 {
			t.Errorf("backend_timeout %d, backend_busy %d: want both (4 senders x 3 s deadlines, 64 queued)", timeouts, busy)
		}
	})
}

// The deadlock of a backend's own window: its reader frees room for the
// backend's publishes, so a delivery that waited for that room (to answer
// a request) would wait for ever. Here Publish waits for deliveries to
// stop arriving, which they do only if no delivery is waiting in Publish.
func TestEngineNeverPublishesFromADelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		wb := &windowBackend{fakeBroker: b, room: make(chan struct{}, 20)}
		p := vendPlan(100, 10*time.Second)
		rec := &tally{}
		e, err := New(p, Options{Connector: b, Receiver: wb, Sender: wb, Recorder: rec, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if s, a := rec.count(RequestSent), rec.count(RequestAnswered); s < 400 || a != s {
			t.Errorf("%d requests answered of %d: want all", a, s)
		}
		if s, r := rec.count(CommandSent), rec.count(CommandReplied); s < 400 || r != s {
			t.Errorf("%d commands replied of %d: want all", r, s)
		}
	})
}

// windowBackend is a fake backend with an MQTT backend's window of
// unacknowledged publishes, whose room only its delivery path frees: it
// delivers a publish's acknowledgement in line with what it receives.
type windowBackend struct {
	*fakeBroker
	room chan struct{}
	mu   sync.Mutex // guards acks
	acks int        // acknowledgements not yet read by the delivery path
}

func (w *windowBackend) Subscribe(ctx context.Context, subs []Subscription, deliver func(Delivery)) error {
	return w.fakeBroker.Subscribe(ctx, subs, func(m Delivery) {
		w.mu.Lock()
		n := w.acks
		w.acks = 0
		w.mu.Unlock()
		for range n {
			<-w.room
		}
		deliver(m)
	})
}

func (w *windowBackend) Publish(ctx context.Context, m Outbound) error {
	select {
	case w.room <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.mu.Lock()
	w.acks++
	w.mu.Unlock()
	return w.fakeBroker.Publish(ctx, m)
}

// Abort ends the drain at once, even when it would wait an hour for acks
// that never come.
func TestEngineAbortCutsTheDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		b.noAck = true
		p := meterPlan(100, time.Second, 5*time.Second, 1)
		p.Drain = time.Hour
		rec := &tally{}
		e, err := New(p, Options{Connector: b, Receiver: b, Sender: b, Recorder: rec, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(7*time.Second, e.Abort)
		start := time.Now()
		if err := e.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 7*time.Second {
			t.Errorf("Run took %v, want the 7 s until Abort", el)
		}
		if u, s := rec.count(Unacked), rec.count(Published); u != s || s == 0 {
			t.Errorf("%d of %d reports counted unacked, want all: none was ever acknowledged", u, s)
		}
		if b.connected() != 0 {
			t.Errorf("%d sessions left open", b.connected())
		}
	})
}

// slowConnector takes longer to connect than the run lasts.
type slowConnector struct{ *fakeBroker }

func (c slowConnector) Connect(ctx context.Context, spec ConnectSpec, h Handler) (Session, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		return c.fakeBroker.Connect(ctx, spec, h)
	}
}

// A connect still under way when the run ends is unfinished, not failed.
func TestEngineConnectsCutShortAreUnfinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(37, time.Second, 3*time.Second, 1)
		rec := &tally{}
		e, err := New(p, Options{Connector: slowConnector{b}, Receiver: b, Sender: b, Recorder: rec, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if f, u := rec.count(ConnectFailed), rec.count(ConnectUnfinished); f != 0 || u != 37 {
			t.Errorf("%d connects failed and %d unfinished, want 0 and 37", f, u)
		}
	})
}

// Only the sampled devices' reports are awaited and timed end to end, and
// the backend subscribes to just their topics.
func TestEngineTimesASampleOfTheFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(1000, time.Second, 10*time.Second, 1)
		p.E2E = &Sampling{Fraction: 0.1}
		want := p.Timed(0)
		if want < 70 || want > 130 {
			t.Fatalf("Timed = %d of 1000 at 10 %%, want 70..130", want)
		}
		rec := &tally{}
		e, err := New(p, Options{Connector: b, Receiver: b, Sender: b, Recorder: rec, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := e.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > p.Duration+100*time.Millisecond {
			t.Errorf("Run took %v: the drain waited for deliveries that were never awaited", el)
		}
		if len(b.subs) != want {
			t.Errorf("backend subscribed %d filters, want one per sampled device (%d)", len(b.subs), want)
		}
		timed := rec.countIf(func(e Event) bool { return e.Kind == Published && e.Timed })
		if d := rec.count(Delivered); d != timed || d < want*9 {
			t.Errorf("delivered %d, %d timed reports sent: want equal, ~10 per sampled device", d, timed)
		}
		if all := rec.count(Published); all < 9000 {
			t.Errorf("published %d, want ~10,000: every device reports", all)
		}
	})
}

func TestEngineTimesNoneWhenTheSampleIsEmpty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(50, time.Second, 5*time.Second, 1)
		p.E2E = &Sampling{}
		rec := run(t, p, b, t.Context())
		if len(b.subs) != 0 || rec.count(Delivered) != 0 {
			t.Errorf("%d backend filters, %d deliveries: want none", len(b.subs), rec.count(Delivered))
		}
		if a, s := rec.count(Acked), rec.count(Published); a != s || s < 200 {
			t.Errorf("acked %d of %d: acks are timed whatever the sample", a, s)
		}
	})
}

// lateBackend stamps each delivery as having reached the host lag ago.
type lateBackend struct {
	*fakeBroker
	lag time.Duration
}

func (l lateBackend) Subscribe(ctx context.Context, subs []Subscription, deliver func(Delivery)) error {
	return l.fakeBroker.Subscribe(ctx, subs, func(m Delivery) {
		m.Arrived = time.Now().Add(-l.lag)
		deliver(m)
	})
}

// The backend's own lag is measured apart and left out of end-to-end
// times: they run to when the message reached the backend's host.
func TestEngineLeavesBackendLagOutOfEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(5 * time.Millisecond)
		p := meterPlan(20, time.Second, 5*time.Second, 1)
		rec := &tally{}
		e, err := New(p, Options{Connector: b, Receiver: lateBackend{b, 3 * time.Millisecond}, Sender: b, Recorder: rec, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, l := range rec.latencies(Delivered) {
			if d := l - 2*time.Millisecond; d < 0 || d >= time.Microsecond {
				t.Fatalf("end to end %v, want the 5 ms hop less the backend's 3 ms lag (to the token's 1us)", l)
			}
		}
		lags := rec.latencies(BackendLag)
		if len(lags) != rec.count(Delivered) || len(lags) < 80 {
			t.Fatalf("%d lag samples for %d deliveries", len(lags), rec.count(Delivered))
		}
		for _, l := range lags {
			if l != 3*time.Millisecond {
				t.Fatalf("backend lag %v, want 3ms", l)
			}
		}
	})
}

// A per-report device that lingers 0 s closes once its sends are
// acknowledged, never before it has sent what woke it.
func TestEnginePerReportLingerZeroSendsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(500, time.Second, 10*time.Second, 1)
		p.Groups[0].Connect.PerReport = true
		rec := run(t, p, b, t.Context())
		if n := errCount(rec, PublishFailed, "offline"); n != 0 {
			t.Errorf("%d reports failed as offline on a healthy broker (of %d sent)", n, rec.count(Published))
		}
		if s, d := rec.count(Published), rec.count(Delivered); s < 4000 || d != s {
			t.Errorf("delivered %d of %d", d, s)
		}
	})
}

// A report's events all carry its intended time, however late it left
// (here after a 1-3 s wake-up), so that a stage counts the same messages
// sent as received.
func TestEngineMessageEventsShareTheirIntendedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(200, 5*time.Second, 20*time.Second, 1)
		p.Groups[0].Connect.PerReport = true
		p.Groups[0].Wake = &Wake{Min: time.Second, Max: 3 * time.Second}
		rec := run(t, p, b, t.Context())
		type key struct {
			g        int
			intended time.Duration
		}
		count := func(k EventKind) map[key]int {
			m := map[key]int{}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, e := range rec.ev {
				if e.Kind == k {
					m[key{e.Group, e.Intended.Truncate(time.Microsecond)}]++
				}
			}
			return m
		}
		sent, acked, got := count(Published), count(Acked), count(Delivered)
		if len(sent) < 100 {
			t.Fatalf("%d distinct intended times sent, want hundreds", len(sent))
		}
		for k, n := range sent {
			if acked[k] != n || got[k] != n {
				t.Fatalf("intended %v: %d sent, %d acked, %d delivered", k.intended, n, acked[k], got[k])
			}
		}
		late := rec.countIf(func(e Event) bool { return e.Kind == Published && e.At-e.Latency-e.Intended >= time.Second })
		if late == 0 {
			t.Errorf("no report left a second or more after its slot: the wake-up was not exercised")
		}
	})
}

// startedTally notes when Run says its clock started, and whether any
// event came before.
type startedTally struct {
	tally
	at    time.Time
	early bool
}

func (s *startedTally) Started(t time.Time) {
	s.mu.Lock()
	s.at, s.early = t, len(s.ev) > 0
	s.mu.Unlock()
}

// The recorder learns the origin of Event.At from the engine itself,
// before any event, so elapsed times and per-second buckets share one
// clock however long New and the backend's subscription took.
func TestEngineTellsTheRecorderItsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(10, time.Second, 3*time.Second, 1)
		rec := &startedTally{}
		e, err := New(p, Options{Connector: b, Receiver: b, Sender: b, Recorder: rec, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(7 * time.Second) // a slow set-up between New and Run
		before := time.Now()
		if err := e.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !rec.at.Equal(before) || rec.early {
			t.Errorf("Started(%v) (events before it: %v), want Run's start %v before any event", rec.at, rec.early, before)
		}
		for _, ev := range rec.ev {
			if ev.At > p.Duration+p.Drain {
				t.Fatalf("event at %v, past the run: the clock started before Run", ev.At)
			}
		}
	})
}
