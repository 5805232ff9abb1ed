package report

import (
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

func TestSnapshot(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewCollector(Info{Devices: 10, Started: start, Duration: 30 * time.Second})
	now := start
	c.now = func() time.Time { return now }
	for i := range 5 {
		c.Record(sim.Event{Kind: sim.Published, At: time.Duration(i) * 100 * ms, Timed: true})
	}
	for i := range 7 {
		at := time.Second + time.Duration(i)*100*ms
		c.Record(sim.Event{Kind: sim.Published, At: at, Timed: i < 3})
		c.Record(sim.Event{Kind: sim.Delivered, At: at + time.Duration(i+1)*ms, Latency: time.Duration(i+1) * ms})
	}
	c.Record(sim.Event{Kind: sim.Connected, At: 10 * ms, Latency: 10 * ms})
	c.Record(sim.Event{Kind: sim.Connected, At: 20 * ms, Latency: 10 * ms})
	c.Record(sim.Event{Kind: sim.Disconnected, At: 1200 * ms, Err: "reset"})
	c.Record(sim.Event{Kind: sim.Published, At: 2100 * ms})
	// The backend's lag: 1 read in 100 late in seconds 2 and 3 (p99 still
	// in time), one more in second 5 (p99 late), one read 1.5 s late in
	// second 20.
	lag := func(at, d time.Duration) { c.Record(sim.Event{Kind: sim.BackendLag, At: at, Latency: d}) }
	for sec := 2; sec <= 3; sec++ {
		for i := range 100 {
			d := time.Millisecond
			if i == 0 {
				d = 200 * ms
			}
			lag(time.Duration(sec)*time.Second+time.Duration(i)*ms, d)
		}
	}
	lag(5*time.Second, 150*ms)
	lag(20*time.Second, 1500*ms)

	base := Snapshot{Devices: 10, Connected: 1, ConnectedMax: 2, Sent: 13, Timed: 8, Received: 7,
		Errors: 1, E2ECount: 7, E2EP99: 7 * ms}
	at := func(elapsed time.Duration, f func(s *Snapshot)) Snapshot {
		s := base
		s.Elapsed = elapsed
		f(&s)
		return s
	}
	tests := []Snapshot{
		at(500*ms, func(s *Snapshot) {}),
		at(1999*ms, func(s *Snapshot) { s.Window, s.SentPerSec, s.TimedPerSec = time.Second, 5, 5 }),
		at(2500*ms, func(s *Snapshot) {
			s.Window, s.SentPerSec, s.TimedPerSec, s.ReceivedPerSec = 2*time.Second, 6, 4, 3.5
		}),
		at(4500*ms, func(s *Snapshot) {
			s.Window, s.SentPerSec, s.TimedPerSec, s.ReceivedPerSec = 4*time.Second, 13.0/4, 2, 7.0/4
			s.BackendLagMax = 200 * ms
		}),
		at(6*time.Second, func(s *Snapshot) {
			s.Window, s.SentPerSec, s.TimedPerSec, s.ReceivedPerSec = 5*time.Second, 8.0/5, 3.0/5, 7.0/5
			s.BackendLagMax, s.BackendBehind = 200*ms, true
		}),
		at(21*time.Second, func(s *Snapshot) { s.Window, s.BackendLagMax, s.BackendBehind = 5*time.Second, 1500*ms, true }),
		at(time.Hour, func(s *Snapshot) { s.Window = 5 * time.Second }),
	}
	for _, want := range tests {
		now = start.Add(want.Elapsed)
		if got := c.Snapshot(); got != want {
			t.Errorf("Snapshot() at %v =\n%+v, want\n%+v", want.Elapsed, got, want)
		}
	}
}

func TestSnapshotEmpty(t *testing.T) {
	c := NewCollector(Info{Devices: 5})
	s := c.Snapshot()
	if s.E2ECount != 0 || s.E2EP99 != 0 || s.Sent != 0 || s.Devices != 5 || s.Elapsed < 0 {
		t.Errorf("Snapshot() of an empty run = %+v, want zero figures for 5 devices", s)
	}
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		s     Snapshot
		total time.Duration
		want  string
	}{
		{Snapshot{Elapsed: 12*time.Second + 900*ms, Devices: 1000, Connected: 1000, Window: 5 * time.Second,
			SentPerSec: 2003, TimedPerSec: 2003, ReceivedPerSec: 2002.6, E2ECount: 5, E2EP99: 1800 * time.Microsecond},
			30 * time.Second, "  13s/30s  connected 1000/1000  last 5s: sent 2003/s, received 2003/s  e2e p99 1.8ms  errors 0"},
		{Snapshot{Elapsed: 0, Connected: 3, Errors: 7}, 0, "  0s  connected 3  sent -/s, received -/s  e2e p99 -  errors 7"},
		// A tick a hair early shows the second it is for.
		{Snapshot{Elapsed: 9998 * ms, Window: 5 * time.Second, SentPerSec: 200, TimedPerSec: 200, ReceivedPerSec: 200},
			30 * time.Second, "  10s/30s  connected 0  last 5s: sent 200/s, received 200/s  e2e p99 -  errors 0"},
		{Snapshot{Elapsed: 2400 * ms, Devices: 10, Window: 2 * time.Second, SentPerSec: 0.5, TimedPerSec: 0.5, E2ECount: 1, E2EP99: 850 * time.Microsecond},
			2 * time.Hour, "  2s/2h00m00s  connected 0/10  last 2s: sent 0.5/s, received 0/s  e2e p99 850µs  errors 0"},
		// Only a sample is timed: the receive rate compares with its rate.
		{Snapshot{Elapsed: 3723 * time.Second, Window: 5 * time.Second, SentPerSec: 100, TimedPerSec: 10.2, ReceivedPerSec: 9.8,
			E2ECount: 1, E2EP99: 1250 * ms},
			0, "  1h02m03s  connected 0  last 5s: sent 100/s, received 9.8/s of 10.2/s timed  e2e p99 1.25s  errors 0"},
		// Nothing timed end to end (CoAP groups only): acknowledgements instead.
		{Snapshot{Elapsed: 20 * time.Second, Window: 5 * time.Second, Sent: 400, SentPerSec: 19.8, AckedPerSec: 18.6},
			time.Minute, "  20s/1m00s  connected 0  last 5s: sent 19.8/s, acked 18.6/s  errors 0"},
		// Past the planned end the clock stops and the drain is timed.
		{Snapshot{Elapsed: 34*time.Second + 400*ms, Devices: 100, Connected: 100, Window: 5 * time.Second, ReceivedPerSec: 86.4},
			30 * time.Second, "  30s/30s draining 4s  connected 100/100  last 5s: sent 0/s, received 86.4/s  e2e p99 -  errors 0"},
		{Snapshot{Elapsed: 50 * time.Second, Window: 5 * time.Second, SentPerSec: 100, TimedPerSec: 100, ReceivedPerSec: 42.5,
			BackendLagMax: 2100 * ms, BackendBehind: true, E2ECount: 1, E2EP99: 3500 * ms},
			50 * time.Second, "  50s/50s  connected 0  last 5s: sent 100/s, received 42.5/s  e2e p99 3.5s  errors 0  BACKEND BEHIND: lag 2.1s"},
	}
	for _, tt := range tests {
		if got := ProgressLine(tt.s, tt.total); got != tt.want {
			t.Errorf("ProgressLine(%+v, %v) =\n%q, want\n%q", tt.s, tt.total, got, tt.want)
		}
	}
}

func TestFmtRate(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{{0, "0"}, {0.2, "0.2"}, {1.0 / 3, "0.333"}, {86.4, "86.4"}, {99.96, "100"}, {100, "100"}, {2002.6, "2003"}}
	for _, tt := range tests {
		if got := fmtRate(tt.v); got != tt.want {
			t.Errorf("fmtRate(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0µs"},
		{1 * time.Microsecond, "1µs"},
		{850 * time.Microsecond, "850µs"},
		{1800 * time.Microsecond, "1.8ms"},
		{12345 * time.Microsecond, "12.3ms"},
		{250 * ms, "250ms"},
		{time.Second, "1s"},
		{1256 * ms, "1.26s"},
		{90 * time.Second, "90s"},
	}
	for _, tt := range tests {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
