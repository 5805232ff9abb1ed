package sim

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func edrxPlan(sl *Sleep) *Plan {
	p := meterPlan(200, time.Hour, 5*time.Minute, 0)
	p.Drain = 30 * time.Second
	p.Groups[0].Telemetry = nil
	p.Groups[0].Commands = &Exchange{Every: time.Minute, Topic: MustTemplate("m/{{id}}/cmd"),
		ReplyTopic: MustTemplate("m/{{id}}/cmd/re"), Payload: MustTemplate(`{"c":"{{track}}"}`), QoS: 1}
	p.Groups[0].Sleep = sl
	// A keepalive ping is an uplink, which would deliver what waits.
	p.Groups[0].Connect.KeepAlive = 0
	return p
}

// A command to an idle eDRX device waits for its next paging window: with
// windows every 20.48 s at random phases the round trip spreads uniformly
// over 0..20.48 s, plus the two hops.
func TestSleepEDRXSpreadsCommandLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(5 * time.Millisecond)
		rec := run(t, edrxPlan(&Sleep{EDRX: 20480 * time.Millisecond}), b, t.Context())
		l := rec.latencies(CommandReplied)
		if s := rec.count(CommandSent); len(l) != s || s < 900 {
			t.Fatalf("%d commands replied of %d sent, want all of >= 900", len(l), s)
		}
		slices.Sort(l)
		hops := 10 * time.Millisecond
		if l[0] < hops || l[len(l)-1] > 20480*time.Millisecond+hops {
			t.Errorf("round trips from %v to %v, want within [10ms, 20.49s]", l[0], l[len(l)-1])
		}
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		// Uniform over 20.48 s: mean 10.24 s, deciles 2.048 s apart.
		if mean := sum / time.Duration(len(l)); mean < 9700*time.Millisecond || mean > 10800*time.Millisecond {
			t.Errorf("mean round trip %v, want 10.24 s +/- 5%%", mean)
		}
		for _, q := range []float64{0.1, 0.5, 0.9} {
			got, want := l[int(q*float64(len(l)))], time.Duration(q*20480)*time.Millisecond
			if got < want-time.Second || got > want+time.Second {
				t.Errorf("round trip p%.0f %v, want %v +/- 1 s", q*100, got, want)
			}
		}
	})
}

func TestSleepListen(t *testing.T) {
	edrx := &Sleep{EDRX: 20 * time.Second, PTW: 2 * time.Second, Inactivity: 10 * time.Second}
	// PSM: connected 10 s, idle 30 s (eDRX windows), PSM until the TAU
	// 10 min after going idle; each TAU restarts the cycle (610 s).
	psm := &Sleep{EDRX: 20 * time.Second, PTW: 2 * time.Second, Inactivity: 10 * time.Second,
		Active: 30 * time.Second, TAU: 10 * time.Minute}
	noEDRX := &Sleep{Inactivity: 10 * time.Second, Active: 30 * time.Second, TAU: 10 * time.Minute}
	s := time.Second
	for _, tc := range []struct {
		sl                   *Sleep
		t, last, phase, want time.Duration
		idle                 bool
	}{
		{edrx, 30 * s, 25 * s, 0, 30 * s, false},      // connected: sent 5 s ago
		{edrx, 41 * s, 0, 0, 41 * s, true},            // inside the window at 40 s
		{edrx, 43 * s, 0, 0, 60 * s, true},            // after the window: next at 60 s
		{edrx, 3 * s, -time.Hour, 5 * s, 5 * s, true}, // before the first window
		{edrx, 25 * s, 0, 5 * s, 25 * s, true},        // a window opens at 25 s
		{edrx, 28 * s, 0, 5 * s, 45 * s, true},        //
		{psm, 5 * s, 0, 0, 5 * s, false},              // connected
		{psm, 21 * s, 0, 0, 21 * s, true},             // idle, in the window at 20 s
		{psm, 23 * s, 0, 0, 610 * s, true},            // the next window (40 s) falls in PSM: the TAU
		{psm, 41 * s, 0, 0, 610 * s, true},            // PSM: the next TAU
		{psm, 609 * s, 0, 0, 610 * s, true},           //
		{psm, 612 * s, 0, 0, 612 * s, false},          // connected after the TAU
		{psm, 621 * s, 0, 0, 621 * s, true},           // idle after the TAU, window at 620 s
		{psm, 1300 * s, 0, 0, 1830 * s, true},         // PSM after the second TAU (1220 s)
		{noEDRX, 25 * s, 0, 0, 25 * s, true},          // idle without eDRX: paged at once
		{noEDRX, 45 * s, 0, 0, 610 * s, true},         // PSM
		{noEDRX, 45 * s, 40 * s, 0, 45 * s, false},    // sent 5 s ago
		{noEDRX, 100 * s, 40 * s, 0, 650 * s, true},   // PSM since 80 s: TAU at 650 s
	} {
		got, idle := tc.sl.listen(tc.t, tc.last, tc.phase)
		if got != tc.want || idle != tc.idle {
			t.Errorf("%+v.listen(t=%v, last=%v, phase=%v) = %v, %v; want %v, %v", *tc.sl, tc.t, tc.last, tc.phase, got, idle, tc.want, tc.idle)
		}
	}
	var none *Sleep
	if got, idle := none.listen(7*time.Second, 0, 0); got != 7*time.Second || idle {
		t.Errorf("nil Sleep: listen = %v, %v; want at once, connected", got, idle)
	}
}

func TestSleepAsleep(t *testing.T) {
	s := time.Second
	psm := &Sleep{Inactivity: 10 * s, Active: 30 * s, TAU: 10 * time.Minute}
	for _, tc := range []struct{ last, now, want time.Duration }{
		{0, 40 * s, 0},
		{0, 41 * s, s},
		{0, 610 * s, 570 * s},           // one whole cycle: 610 - 40
		{0, 700 * s, 570*s + 50*s},      // and 90 s into the next: 50 s past its 40 s awake
		{100 * s, 100 * s, 0},           //
		{0, 10 * 610 * s, 10 * 570 * s}, // ten cycles
	} {
		if got := psm.asleep(tc.last, tc.now); got != tc.want {
			t.Errorf("asleep(%v, %v) = %v, want %v", tc.last, tc.now, got, tc.want)
		}
	}
	if got := (&Sleep{EDRX: 20 * s}).asleep(0, time.Hour); got != 0 {
		t.Errorf("eDRX only: asleep = %v, want 0 (no PSM)", got)
	}
}

// A connected device idle past its inactivity timer pays the radio's
// wake-up on its next uplink; one that sent recently does not.
func TestWakeCostOnTheFirstUplinkFromIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(100, 30*time.Second, 5*time.Minute, 0)
		p.Groups[0].Wake = &Wake{Min: time.Second, Max: 3 * time.Second, Inactivity: 10 * time.Second}
		rec := run(t, p, newFakeBroker(time.Millisecond), t.Context())
		l := rec.latencies(Delivered)
		if len(l) < 900 {
			t.Fatalf("%d deliveries, want >= 900", len(l))
		}
		// Every report comes 30 s after the last and pays 1-3 s (+1 ms hop),
		// except a first report within 10 s of connecting: the device is
		// still connected then.
		var sum time.Duration
		woken := 0
		for _, d := range l {
			switch {
			case d <= 2*time.Millisecond:
			case d >= time.Second && d <= 3*time.Second+2*time.Millisecond:
				sum += d
				woken++
			default:
				t.Fatalf("end-to-end %v, want the hop alone or the 1-3 s wake plus the hop", d)
			}
		}
		if len(l)-woken > 100 {
			t.Errorf("%d reports without a wake, want at most one per device (the first)", len(l)-woken)
		}
		if mean := sum / time.Duration(woken); mean < 1900*time.Millisecond || mean > 2100*time.Millisecond {
			t.Errorf("mean end-to-end %v, want the wake's mean, 2 s", mean)
		}
		if lag := slices.Max(rec.latencies(Published)); lag != 0 {
			t.Errorf("schedule lag %v, want 0: the wake is the radio's", lag)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(20, 5*time.Second, time.Minute, 0)
		p.Groups[0].Wake = &Wake{Min: time.Second, Max: 3 * time.Second, Inactivity: 10 * time.Second}
		rec := run(t, p, newFakeBroker(time.Millisecond), t.Context())
		for _, d := range rec.latencies(Delivered) {
			if d > 2*time.Millisecond {
				t.Fatalf("end-to-end %v for a device that sends every 5 s, want no wake (inactivity 10 s)", d)
			}
		}
	})
}

// A persistent-connection device in PSM hears nothing until its next
// uplink: with reports every 5 min and 40 s awake after each (10 s
// connected, a 30 s active timer), a command arriving u seconds after a
// report goes at once if u < 40 and waits 300-u otherwise: a mean wait of
// 260/300 * 130 s = 112.7 s, none longer than a report period. Every
// report ends a stretch of 260 s in PSM.
func TestSleepPSMCommandsWaitForTheNextUplink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(100, 5*time.Minute, time.Hour, 0)
		p.Drain = 6 * time.Minute
		g := &p.Groups[0]
		g.Connect.KeepAlive = 0
		g.Telemetry.Jitter = 0
		g.Commands = &Exchange{Every: 7 * time.Minute, Jitter: 3 * time.Minute, Topic: MustTemplate("m/{{id}}/cmd"),
			ReplyTopic: MustTemplate("m/{{id}}/cmd/re"), Payload: MustTemplate(`{"c":"{{track}}"}`), QoS: 1}
		g.Sleep = &Sleep{Inactivity: 10 * time.Second, Active: 30 * time.Second, TAU: 24 * time.Hour}
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		l := rec.latencies(CommandReplied)
		// Those sent after the last report wait past the end of the run.
		if s := rec.count(CommandSent); s < 700 || len(l) < s*9/10 {
			t.Fatalf("%d of %d commands replied, want >= 90 %% of >= 700", len(l), s)
		}
		hops := 10 * time.Millisecond
		if hi := slices.Max(l); hi > 5*time.Minute+hops {
			t.Errorf("longest round trip %v, want at most a report period", hi)
		}
		var sum time.Duration
		for _, d := range l {
			sum += d - hops
		}
		t.Logf("%d commands: mean wait %v (model 112.7 s), longest %v", len(l), sum/time.Duration(len(l)), slices.Max(l))
		if mean := sum / time.Duration(len(l)); mean < 101*time.Second || mean > 124*time.Second {
			t.Errorf("mean wait %v, want 112.7 s +/- 10%%", mean)
		}
		// Replies are uplinks too and restart the cycle, so some stretches
		// between reports are cut short: at most 260 s each.
		naps := rec.latencies(Woke)
		if len(naps) < rec.count(Published)/2 {
			t.Errorf("%d wakes from PSM for %d reports, want most reports to end one", len(naps), rec.count(Published))
		}
		if hi := slices.Max(naps); hi > 260*time.Second {
			t.Errorf("longest PSM stretch %v, want <= 260 s (300 s between reports, 40 s awake)", hi)
		}
	})
}

// Without uplinks a PSM device is reachable only at its periodic TAU: a
// command waits for the next one, at most a TAU cycle (inactivity +
// T3412). Commands arrive at offsets spread over the cycle, so the mean
// wait is near 570/610 * 285 s = 266 s. A device out of connected mode
// also pays the wake-up (RRC setup, 1-3 s here).
func TestSleepPSMCommandsWaitForTheTAU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(100, time.Hour, 6*time.Hour, 0)
		p.Drain = 11 * time.Minute
		g := &p.Groups[0]
		g.Connect.KeepAlive = 0
		g.Telemetry = nil
		g.Commands = &Exchange{Every: 23 * time.Minute, Jitter: 10 * time.Minute, Topic: MustTemplate("m/{{id}}/cmd"),
			ReplyTopic: MustTemplate("m/{{id}}/cmd/re"), Payload: MustTemplate(`{"c":"{{track}}"}`), QoS: 1}
		g.Sleep = &Sleep{Inactivity: 10 * time.Second, Active: 30 * time.Second, TAU: 10 * time.Minute}
		g.Wake = &Wake{Min: time.Second, Max: 3 * time.Second, Inactivity: 10 * time.Second}
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		l := rec.latencies(CommandReplied)
		if s := rec.count(CommandSent); s < 1400 || len(l) != s {
			t.Fatalf("%d of %d commands replied, want all of >= 1400", len(l), s)
		}
		if hi := slices.Max(l); hi > 610*time.Second+3*time.Second+10*time.Millisecond {
			t.Errorf("longest round trip %v, want at most one TAU cycle (610 s) + wake-up + hops", hi)
		}
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		t.Logf("%d commands: mean round trip %v (model 266 s + 2 s), longest %v", len(l), sum/time.Duration(len(l)), slices.Max(l))
		if mean := sum / time.Duration(len(l)); mean < 240*time.Second || mean > 295*time.Second {
			t.Errorf("mean round trip %v, want about 266 s + 2 s wake-up (+/- 10%%)", mean)
		}
		// Only a command arriving while the device is connected (10 s of
		// each 610 s cycle: 1.6 %) skips the wake-up.
		quick := 0
		for _, d := range l {
			if d < time.Second {
				quick++
			}
		}
		if quick > len(l)*4/100 {
			t.Errorf("%d of %d round trips under 1 s, want about 1.6 %% (the connected 10 s of each cycle)", quick, len(l))
		}
	})
}

// Without sleep timers an idle device is still paged before a downlink
// reaches it: the command waits for the radio's wake-up (1-3 s here),
// unless the device sent something within its inactivity timer.
func TestWakeCostOnDownlinkToAnIdleDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(100, time.Hour, 10*time.Minute, 0)
		g := &p.Groups[0]
		g.Telemetry, g.Connect.KeepAlive = nil, 0
		g.Commands = &Exchange{Every: time.Minute, Topic: MustTemplate("m/{{id}}/cmd"),
			ReplyTopic: MustTemplate("m/{{id}}/cmd/re"), Payload: MustTemplate(`{"c":"{{track}}"}`), QoS: 1}
		g.Wake = &Wake{Min: time.Second, Max: 3 * time.Second, Inactivity: 10 * time.Second}
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		l := rec.latencies(CommandReplied)
		if len(l) < 800 {
			t.Fatalf("%d commands replied, want >= 800", len(l))
		}
		// The first command of a device that connected under 10 s before
		// finds it still connected: a few of the 1,000.
		slow, sum := 0, time.Duration(0)
		for _, d := range l {
			if d >= time.Second {
				slow++
				sum += d
			}
		}
		if slow < len(l)*95/100 {
			t.Errorf("%d of %d round trips paid a wake-up, want nearly all", slow, len(l))
		}
		if mean := sum / time.Duration(slow); mean < 1900*time.Millisecond || mean > 2100*time.Millisecond {
			t.Errorf("mean round trip with a wake-up %v, want 2 s + hops", mean)
		}
		// Each wake-up is a radio promotion, recorded with its cost.
		if p := rec.latencies(Promoted); len(p) != slow || slices.Min(p) < time.Second || slices.Max(p) > 3*time.Second {
			t.Errorf("%d promotions recorded for %d paid wake-ups, want one each of 1-3 s", len(p), slow)
		}
	})
}

// A per-report device still waking when the schedule ends is work the
// drain waits for: its report goes out, none is left unsent.
func TestDrainWaitsForWakingDevices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := meterPlan(100, 10*time.Second, 10*time.Second, 1)
		p.Drain = 30 * time.Second
		g := &p.Groups[0]
		g.Connect.PerReport = true
		g.Wake = &Wake{Min: 2 * time.Second, Max: 3 * time.Second}
		rec := run(t, p, newFakeBroker(5*time.Millisecond), t.Context())
		if n, u := rec.count(Delivered), countErr(rec, errUnsent); n != 100 || u != 0 {
			t.Errorf("%d delivered, %d unsent at close; want every device's one report delivered", n, u)
		}
	})
}
