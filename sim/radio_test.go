package sim

import (
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// sf12 is LoRaWAN SF12 at 1 %: 1810.4 ms on air for a 20-byte payload
// (RADIO.md section 5), so the band stays closed for 181.04 s per send.
func sf12(n int) time.Duration { return 1810400 * time.Microsecond }

func sendTimes(rec *tally, k EventKind) []time.Duration {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var at []time.Duration
	for _, e := range rec.ev {
		if e.Kind == k {
			at = append(at, e.At)
		}
	}
	return at
}

// rx1 is LoRaWAN's RECEIVE_DELAY1, which the scenarios package takes from
// the lorawan profiles.
const rx1 = time.Second

func countErr(rec *tally, kind string) int {
	return rec.countIf(func(e Event) bool { return e.Kind == PublishFailed && e.Err == kind })
}

func loraPlan(drop bool) *Plan {
	p := meterPlan(1, time.Minute, 570*time.Second, 0) // slots 0..9 min, none on the end
	p.Groups[0].Telemetry.Aligned = true
	p.Groups[0].Telemetry.Size = 0
	p.Groups[0].Telemetry.Payload = MustTemplate("{{track}}")
	p.Groups[0].Radio = &Radio{Airtime: sf12, DutyCycle: 0.01, MaxPayload: 51, Queue: 2, Drop: drop}
	return p
}

// An SF12 device scheduled every 60 s at a 1 % duty cycle gets a send out
// at most once per 181 s; with the drop policy the sends in between are
// refused and counted.
func TestRadioDutyCycleDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := run(t, loraPlan(true), newFakeBroker(time.Millisecond), t.Context())
		at := sendTimes(rec, Published)
		// Slots 0..9 min: on air at 0, 4, 8 min (the band opens at 181 s
		// after each), the rest dropped.
		if len(at) != 3 {
			t.Fatalf("sent at %v, want 3 sends in 10 min", at)
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i] - at[i-1]; gap < 181*time.Second {
				t.Errorf("sends %v apart, want at least 181 s at 1 %% duty cycle", gap)
			}
		}
		if n := countErr(rec, errDutyCycle); n != 7 {
			t.Errorf("%d sends dropped for the duty cycle, want 7", n)
		}
		for _, air := range rec.latencies(OnAir) {
			if air != 1810400*time.Microsecond {
				t.Errorf("on-air event %v, want SF12's 1810.4 ms", air)
			}
		}
		if n := rec.count(OnAir); n != 3 {
			t.Errorf("%d on-air events, want one per frame (3)", n)
		}
		for _, l := range rec.latencies(Delivered) {
			if l < 1810*time.Millisecond || l > 1812*time.Millisecond {
				t.Errorf("end-to-end %v, want the 1810.4 ms on air plus the 1 ms hop", l)
			}
		}
	})
}

// With the defer policy the sends wait for the band in a bounded queue:
// they go out late, the hold is recorded, and overflow is dropped.
func TestRadioDutyCycleDefers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := run(t, loraPlan(false), newFakeBroker(time.Millisecond), t.Context())
		at := sendTimes(rec, Published)
		if len(at) != 4 {
			t.Fatalf("sent at %v, want 4 in 10 min (0, 181, 362, 543 s)", at)
		}
		for i := 1; i < len(at); i++ {
			gap := at[i] - at[i-1]
			if gap < 181040*time.Millisecond || gap > 181041*time.Millisecond {
				t.Errorf("sends %v apart, want the band's 181.04 s", gap)
			}
		}
		holds := rec.latencies(Deferred)
		if len(holds) != 3 || holds[0] != 181040*time.Millisecond-60*time.Second {
			t.Errorf("holds %v, want 3, the first 121.04 s (slot 1 min, band open at 181.04 s)", holds)
		}
		// Slots every minute, 0..9; the band is open again 181.04 s after
		// each start, and the queue holds 2. On air: slots 0, 1, 2 and 4 (at
		// 0, 181.04, 362.08, 543.12 s). Slots 3, 5, 6, 8 and 9 find the
		// queue full; slot 7 is still held when the run ends.
		if full, unsent := countErr(rec, errQueueFull), countErr(rec, errUnsent); full != 5 || unsent != 1 {
			t.Errorf("%d dropped from the full queue, %d unsent at the end: want 5 and 1", full, unsent)
		}
		if lag := rec.latencies(Published); lag[1] != 0 {
			t.Errorf("schedule lag %v for a held send, want 0: the hold is the radio's", lag[1])
		}
	})
}

func TestRadioRefusesOversizedPayloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := loraPlan(true)
		p.Groups[0].Telemetry.Size = 64
		rec := run(t, p, newFakeBroker(time.Millisecond), t.Context())
		if n, s := countErr(rec, errTooLarge), rec.count(Published); n != 10 || s != 0 {
			t.Errorf("%d refused as too large, %d sent; want all 10 refused (64 B > 51 B)", n, s)
		}
	})
}

// A class A device hears commands only in RX1, 1 s after each of its
// uplinks: a command waits for the next report, so its round trip runs
// up to a report period plus RX1.
func TestRadioClassACommandsWaitForTheNextUplink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		air := 72 * time.Millisecond // SF7, a small payload
		p := meterPlan(50, 30*time.Second, 5*time.Minute, 0)
		p.Drain = 45 * time.Second
		g := &p.Groups[0]
		g.Telemetry.Payload, g.Telemetry.Size = MustTemplate("{{track}}"), 0
		g.Radio = &Radio{Airtime: func(int) time.Duration { return air }, MaxPayload: 222, AfterUplink: true, RXDelay: rx1}
		g.Commands = &Exchange{Every: 30 * time.Second, Topic: MustTemplate("m/{{id}}/cmd"),
			ReplyTopic: MustTemplate("m/{{id}}/cmd/re"), Payload: MustTemplate(`{{track}}`), QoS: 1}
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		l := rec.latencies(CommandReplied)
		if s := rec.count(CommandSent); s < 400 || len(l) < s-50 {
			t.Fatalf("%d of %d commands replied, want nearly all (those after the last report wait)", len(l), s)
		}
		lo, hi := slices.Min(l), slices.Max(l)
		// A command reaching the network before an RX1 opens goes out in
		// it; the shortest round trip is the two hops.
		if lo < 10*time.Millisecond || hi > 30*time.Second+rx1+air+20*time.Millisecond {
			t.Errorf("round trips %v..%v, want within the two hops .. one report period + RX1", lo, hi)
		}
		if w := rec.count(DownlinkWait); w != len(l) {
			t.Errorf("%d downlink waits recorded for %d replies, want one per held command", w, len(l))
		}
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		// Commands land uniformly between reports: a wait of 15 s on average.
		if mean := sum / time.Duration(len(l)); mean < 14*time.Second || mean > 18*time.Second {
			t.Errorf("mean round trip %v, want about 15 s + RX1", mean)
		}
	})
}

// Sigfox allows 140 uplinks a day: a device scheduled every 5 minutes
// (288 a day) sends 140 and has the rest refused, then starts again the
// next day.
func TestRadioDailyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(1, 5*time.Minute, 36*time.Hour-time.Minute, 0)
		g := &p.Groups[0]
		g.Telemetry.Aligned, g.Telemetry.Size, g.Telemetry.Payload = true, 0, MustTemplate("{{track}}")
		g.Radio = &Radio{PerDay: 140}
		rec := run(t, p, newFakeBroker(time.Millisecond), t.Context())
		at := sendTimes(rec, Published)
		// Day 1: slots 0..139 go; 140..287 are refused. Day 2 (12 h = 144
		// slots, 288..431): all 144 would fit but only 140 may.
		if len(at) != 280 || countErr(rec, errDailyCap) != 148+4 {
			t.Errorf("%d sent, %d refused for the daily cap; want 280 and 152", len(at), countErr(rec, errDailyCap))
		}
		if last := at[139]; last >= 24*time.Hour {
			t.Errorf("the 140th send of day 1 at %v, want within the first day", last)
		}
		if first := at[140]; first < 24*time.Hour {
			t.Errorf("the 141st send at %v, want on day 2", first)
		}
	})
}

// Frames on a shared channel collide as pure ALOHA says: with G the
// offered load per channel, a frame survives with probability e^-2G.
// RADIO.md's example: 1,000 devices, one 1.81 s frame every 10 min each,
// 3 channels: G = 1.006, 13.4 % delivered.
func TestRadioCollisionsFollowALOHA(t *testing.T) {
	const n, every, air, channels = 1000, 600 * time.Second, 1810 * time.Millisecond, 3
	G := float64(n) * air.Seconds() / (every.Seconds() * channels)
	aloha := collisionRun(t, false)
	t.Logf("ALOHA: %.4f delivered, e^-2G = %.4f", aloha, math.Exp(-2*G))
	if want := math.Exp(-2 * G); math.Abs(aloha-want) > 0.02 {
		t.Errorf("delivered %.3f of frames, want e^-2G = %.3f (G = %.3f) +/- 0.02", aloha, want, G)
	}
	// With capture the stronger of two frames often survives (devices
	// spread over 27.5 dB, 6 dB needed), so more get through, though the
	// gateway's 8 demodulators turn some away at this load (G = 1 per
	// channel: 3 frames on air on average, bursts past 8).
	capture := collisionRun(t, true)
	t.Logf("capture: %.4f delivered", capture)
	if capture < aloha+0.10 || capture > 0.8 {
		t.Errorf("capture delivered %.3f, ALOHA %.3f: want capture well above ALOHA, still far from all", capture, aloha)
	}
}

// collisionRun is RADIO.md's LoRa example: 1,000 devices sending one
// 1.81 s frame every 10 min each on 3 channels (G = 1.006). It returns
// the fraction of frames delivered.
func collisionRun(t *testing.T, capture bool) float64 {
	var ratio float64
	synctest.Test(t, func(t *testing.T) {
		const n, every, air, channels = 1000, 600 * time.Second, 1810 * time.Millisecond, 3
		p := meterPlan(n, every, 2*time.Hour, 0)
		p.Drain = 5 * time.Second
		g := &p.Groups[0]
		g.Connect.Rate = Rate{Freq: 1000, Per: time.Second}
		g.Telemetry.Jitter, g.Telemetry.Size, g.Telemetry.Payload = 60*time.Second, 0, MustTemplate("{{track}}")
		g.Radio = &Radio{Airtime: func(int) time.Duration { return air }, Channels: channels, Domain: 12, Capture: capture}
		rec := run(t, p, newFakeBroker(time.Millisecond), t.Context())
		sent, got, lost := rec.count(Published), rec.count(Delivered), rec.count(Collided)
		if sent < 10000 || got+lost != sent {
			t.Fatalf("%d sent, %d delivered, %d collided: want >= 10000 sent, each delivered or collided", sent, got, lost)
		}
		ratio = float64(got) / float64(sent)
	})
	return ratio
}

// With drop-oldest the queue keeps the freshest readings: the sends that
// get out are the newest when the band opens. A byte bound that holds two
// 28-byte tokens acts as a two-frame queue.
func TestRadioQueueDropsOldest(t *testing.T) {
	for _, r := range []*Radio{
		{Airtime: sf12, DutyCycle: 0.01, Queue: 2, DropOldest: true},
		{Airtime: sf12, DutyCycle: 0.01, Queue: 100, QueueBytes: 60, DropOldest: true},
	} {
		synctest.Test(t, func(t *testing.T) {
			b := newFakeBroker(time.Millisecond)
			p := loraPlan(false)
			p.Groups[0].Radio = r
			rec := run(t, p, b, t.Context())
			var seqs []uint32
			for _, l := range b.log {
				if tok, ok := FindToken([]byte(l)); ok {
					seqs = append(seqs, tok.Seq)
				}
			}
			// Slot k has seq k+1. On air at 0, 181.04, 362.08, 543.12 s: slot
			// 0, then the newest held each time (2, 5, 8); slots 1, 3, 4, 6
			// and 7 make room, and slot 9 is held at the end.
			if !slices.Equal(seqs, []uint32{1, 3, 6, 9}) {
				t.Errorf("queue %+v sent seqs %v, want [1 3 6 9]", r, seqs)
			}
			if full, unsent := countErr(rec, errQueueFull), countErr(rec, errUnsent); full != 5 || unsent != 1 {
				t.Errorf("%d dropped, %d unsent, want 5 and 1", full, unsent)
			}
		})
	}
}

// A command's reply is an uplink too: under a duty cycle it waits for the
// band, which closes for airtime/dc after the uplink whose RX1 brought the
// command (SF7, 72 ms at 1 %: 7.2 s).
func TestRadioRepliesWaitForTheBand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		air := 72 * time.Millisecond
		p := meterPlan(20, 30*time.Second, 3*time.Minute, 0)
		p.Drain = 45 * time.Second
		g := &p.Groups[0]
		g.Telemetry.Payload, g.Telemetry.Size = MustTemplate("{{track}}"), 0
		g.Radio = &Radio{Airtime: func(int) time.Duration { return air }, DutyCycle: 0.01, AfterUplink: true, RXDelay: rx1}
		g.Commands = &Exchange{Every: 30 * time.Second, Topic: MustTemplate("m/{{id}}/cmd"),
			ReplyTopic: MustTemplate("m/{{id}}/cmd/re"), Payload: MustTemplate(`{{track}}`), QoS: 1}
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		l := rec.latencies(CommandReplied)
		if len(l) < 50 {
			t.Fatalf("%d replies, want >= 50", len(l))
		}
		// Replies triggered in RX1 go out when the band reopens, 7.2 s after
		// the uplink started; none can arrive sooner than that minus RX1.
		if lo := slices.Min(l); lo < 7200*time.Millisecond-rx1 {
			t.Errorf("fastest reply %v, want at least the band's 7.2 s less RX1", lo)
		}
		if d := rec.count(Deferred); d < len(l) {
			t.Errorf("%d deferred sends for %d band-bound replies, want each reply held", d, len(l))
		}
	})
}

func cmdEvery(every time.Duration) *Exchange {
	return &Exchange{Every: every, Topic: MustTemplate("m/{{id}}/cmd"),
		ReplyTopic: MustTemplate("m/{{id}}/cmd/re"), Payload: MustTemplate(`{{track}}`), QoS: 1}
}

// sigfoxPlan is a day of devices reporting every 15 min on a Sigfox-like
// radio: 6 s on air, 1 % duty cycle, 12 B up, 140 a day, and a downlink
// window 20 s after an uplink, 4 a day, 8 B.
func sigfoxPlan(devices int, payload string) *Plan {
	p := meterPlan(devices, 15*time.Minute, 24*time.Hour, 0)
	p.Drain = time.Minute
	g := &p.Groups[0]
	g.Connect.KeepAlive = 0
	g.Telemetry.Payload, g.Telemetry.Size = MustTemplate(payload), 0
	g.Radio = &Radio{Airtime: func(int) time.Duration { return 6 * time.Second }, DutyCycle: 0.01, MaxPayload: 12, PerDay: 140,
		AfterUplink: true, RXDelay: 20 * time.Second, DownPerDay: 4, MaxDownPayload: 8}
	return p
}

// Sigfox-like downlink: a device asks for a downlink at most 4 times a
// day (on its first uplink in each 6 h), the window opens 20 s after that
// uplink and carries one command. Commands hourly pile up: each device
// gets at most 4 a day, and its 16-command buffer overflows.
func TestRadioDownlinksPerDay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := sigfoxPlan(50, "{{track}}")
		g := &p.Groups[0]
		g.Radio.MaxPayload, g.Radio.PerDay, g.Radio.MaxDownPayload = 0, 0, 0
		g.Commands = cmdEvery(time.Hour)
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		got := rec.count(DownlinkWait)
		// The first period's window usually opens before any command.
		if got > 4*50 || got < 3*50 {
			t.Errorf("%d commands delivered, want 3 to 4 per device a day (150..200)", got)
		}
		if r := rec.count(CommandReplied); r > got {
			t.Errorf("%d replies for %d delivered commands", r, got)
		}
		if full := countErr(rec, errDownFull); full < 50 {
			t.Errorf("%d commands dropped for a full downlink buffer, want >= 1 per device (24 a day, 4 delivered, 16 held)", full)
		}
	})
}

// A downlink over the radio's cap never reaches the device: it is counted
// and the run does not wait for its reply.
func TestRadioDownlinkTooLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(20, time.Minute, 10*time.Minute, 0)
		p.Drain = time.Hour
		g := &p.Groups[0]
		g.Radio = &Radio{MaxDownPayload: 8}
		g.Commands = cmdEvery(time.Minute)
		start := time.Now()
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		sent, failed := rec.count(CommandSent), countErr(rec, errDownTooLarge)
		if sent < 150 || failed != sent || rec.count(CommandReplied) != 0 {
			t.Errorf("%d commands sent, %d too large, %d replied; want all >= 150 refused", sent, failed, rec.count(CommandReplied))
		}
		if took := time.Since(start); took > 11*time.Minute {
			t.Errorf("run took %v: the drain waited for replies that cannot come", took)
		}
	})
}

// Class C: the device listens between uplinks, but a downlink takes its
// own time on air (RX2 at SF12: ~1.8 s for a short payload).
func TestRadioDownlinkAirtime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := 1810 * time.Millisecond
		p := meterPlan(50, time.Minute, 5*time.Minute, 0)
		g := &p.Groups[0]
		g.Radio = &Radio{Airtime: func(int) time.Duration { return 72 * time.Millisecond },
			DownAirtime: func(int) time.Duration { return down }}
		g.Commands = cmdEvery(30 * time.Second)
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		l := rec.latencies(CommandReplied)
		if len(l) < 400 {
			t.Fatalf("%d replies, want >= 400", len(l))
		}
		slices.Sort(l)
		// The reply is a 72 ms uplink frame. Half duplex: a command arriving
		// while the device transmits also waits for the end of that frame.
		base := down + 72*time.Millisecond + 10*time.Millisecond
		if l[0] < base || l[len(l)/2] > base+time.Millisecond || l[len(l)-1] > base+72*time.Millisecond {
			t.Errorf("round trips %v / %v / %v (min/p50/max), want %v (downlink + reply frame + hops), + at most one frame", l[0], l[len(l)/2], l[len(l)-1], base)
		}
	})
}

// Iridium SBD: the modem starts a session at most every 40 s, so reports
// due every 10 s go out every 40 s and the rest wait (or overflow).
func TestRadioMinInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(10, 10*time.Second, 10*time.Minute, 0)
		g := &p.Groups[0]
		g.Telemetry.Payload, g.Telemetry.Size = MustTemplate("{{track}}"), 0
		g.Radio = &Radio{Airtime: func(int) time.Duration { return 5 * time.Second }, MinInterval: 40 * time.Second}
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		// 600 s / 40 s = 15 frames per device, the first at its first report.
		if n := rec.count(OnAir); n < 10*14 || n > 10*16 {
			t.Errorf("%d frames on air, want 14-16 per device (one per 40 s)", n)
		}
		if d := rec.count(Deferred); d < 10*13 {
			t.Errorf("%d deferred, want nearly every frame held", d)
		}
	})
}

// untimed counts the latency events that came without a latency.
func (t *tally) untimed() int {
	return t.countIf(func(e Event) bool { return e.Err == errUntimed })
}

// Sigfox end to end: 12-byte reports and 8-byte commands cannot hold a
// 28-byte token, so they carry the 8-byte short one and the engine keeps
// their intended times. Reports take their 6 s on air; commands wait for
// one of the 4 downlink windows a day, 20 s after an uplink.
func TestRadioSigfoxShortTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		air := 6 * time.Second
		p := sigfoxPlan(20, "{{track8}}t=")
		g := &p.Groups[0]
		g.Telemetry.Size = 12
		g.Commands = cmdEvery(6 * time.Hour)
		g.Commands.Payload = MustTemplate("{{track8}}")
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		e2e := rec.latencies(Delivered)
		if len(e2e) < 20*90 || countErr(rec, errTooLarge) != 0 {
			t.Fatalf("%d reports delivered, %d too large; want >= 1,800 (96 a day each), none too large", len(e2e), countErr(rec, errTooLarge))
		}
		slices.Sort(e2e)
		if e2e[0] < air || e2e[len(e2e)/2] > air+10*time.Millisecond {
			t.Errorf("report latency min %v, p50 %v; want the 6 s on air + 5 ms", e2e[0], e2e[len(e2e)/2])
		}
		cmd := rec.latencies(CommandReplied)
		if len(cmd) < 20*2 || countErr(rec, errDownTooLarge) != 0 {
			t.Fatalf("%d commands replied, %d too large; want >= 2 per device, none too large", len(cmd), countErr(rec, errDownTooLarge))
		}
		// The window opens 20 s after the uplink; the reply then waits for
		// the band (6 s on air at 1 %: 600 s) and takes 6 s on air.
		if lo := slices.Min(cmd); lo < 20*time.Second {
			t.Errorf("fastest command round trip %v, want >= the 20 s to the window", lo)
		}
		if n := rec.untimed(); n != 0 {
			t.Errorf("%d measurements untimed, want every short token resolved", n)
		}
	})
}

// Frames held or on air are work the drain waits for: reports that start
// 6 s of airtime near the end of the schedule still go out.
func TestRadioDrainWaitsForFramesOnAir(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(50, 20*time.Second, 20*time.Second, 0)
		p.Drain = 10 * time.Second
		g := &p.Groups[0]
		g.Telemetry.Payload, g.Telemetry.Size = MustTemplate("{{track8}}"), 12
		g.Radio = &Radio{Airtime: func(int) time.Duration { return 6 * time.Second }, DutyCycle: 0.01, MaxPayload: 12}
		start := time.Now()
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		if n, u := rec.count(Delivered), countErr(rec, errUnsent); n != 50 || u != 0 {
			t.Errorf("%d delivered, %d unsent at close; want all 50 delivered", n, u)
		}
		if took := time.Since(start); took > 27*time.Second {
			t.Errorf("run took %v: want the drain to end once the last frame is delivered (~26 s)", took)
		}
	})
}

// A transport's own frames (a retransmission) are uplinks the radio
// charges: each closes the band for its duty cycle, so the engine's next
// frame waits the longer, and one sent while the band was closed is
// counted as an overrun, which a real radio would have held.
func TestRadioChargesTransportFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		b.resend = 2 * time.Second
		p := loraPlan(false)
		p.Groups[0].Connect.KeepAlive = 0
		rec := run(t, p, b, t.Context())
		at := sendTimes(rec, Published)
		if len(at) < 3 {
			t.Fatalf("sent at %v, want at least 3", at)
		}
		// Each frame is held until the band its retransmission closed
		// opens: 1.8104 s on air, 2 s to the retransmission, then
		// 181.04 s.
		for i := 1; i < len(at); i++ {
			if gap := at[i] - at[i-1]; gap != 184850400*time.Microsecond {
				t.Errorf("sends %v apart, want 184.8504 s: 1.8104 s on air, 2 s to the retransmission, then its 181.04 s closed band", gap)
			}
		}
		over := rec.countIf(func(e Event) bool { return e.Kind == Counted && e.Metric == metricOverrun })
		if over != len(at) || rec.count(OnAir) != 2*len(at) {
			t.Errorf("%d overruns, %d on-air events for %d sends: want one retransmission sent into a closed band per send, "+
				"and every frame on air", over, rec.count(OnAir), len(at))
		}
	})
}
