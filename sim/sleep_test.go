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

func TestSleepReachable(t *testing.T) {
	s := &Sleep{EDRX: 20 * time.Second, PTW: 2 * time.Second, Inactivity: 10 * time.Second}
	for _, tc := range []struct {
		t, last, phase, want time.Duration
	}{
		{30 * time.Second, 25 * time.Second, 0, 30 * time.Second},       // active: sent 5 s ago
		{41 * time.Second, 0, 0, 41 * time.Second},                      // inside the window at 40 s
		{43 * time.Second, 0, 0, 60 * time.Second},                      // after the window: next at 60 s
		{3 * time.Second, -time.Hour, 5 * time.Second, 5 * time.Second}, // before the first window
		{25 * time.Second, 0, 5 * time.Second, 25 * time.Second},        // a window opens at 25 s
		{28 * time.Second, 0, 5 * time.Second, 45 * time.Second},
	} {
		if got := s.reachable(tc.t, tc.last, tc.phase); got != tc.want {
			t.Errorf("reachable(t=%v, last=%v, phase=%v) = %v, want %v", tc.t, tc.last, tc.phase, got, tc.want)
		}
	}
	var none *Sleep
	if got := none.reachable(7*time.Second, 0, 0); got != 7*time.Second {
		t.Errorf("nil Sleep: reachable = %v, want at once", got)
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
