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
		c.Record(sim.Event{Kind: sim.Published, At: time.Duration(i) * 100 * ms})
	}
	for i := range 7 {
		at := time.Second + time.Duration(i)*100*ms
		c.Record(sim.Event{Kind: sim.Published, At: at})
		c.Record(sim.Event{Kind: sim.Delivered, At: at + time.Duration(i+1)*ms, Latency: time.Duration(i+1) * ms})
	}
	c.Record(sim.Event{Kind: sim.Connected, At: 10 * ms, Latency: 10 * ms})
	c.Record(sim.Event{Kind: sim.Connected, At: 20 * ms, Latency: 10 * ms})
	c.Record(sim.Event{Kind: sim.Disconnected, At: 1200 * ms, Err: "reset"})
	c.Record(sim.Event{Kind: sim.Published, At: 2100 * ms})

	tests := []struct {
		elapsed time.Duration
		want    Snapshot
	}{
		{500 * ms, Snapshot{Elapsed: 500 * ms, Devices: 10, Connected: 1, ConnectedMax: 2, Sent: 13, Received: 7,
			Errors: 1, E2ECount: 7, E2EP99: 7 * ms}},
		{1999 * ms, Snapshot{Elapsed: 1999 * ms, Devices: 10, Connected: 1, ConnectedMax: 2, Sent: 13, Received: 7,
			Errors: 1, SentPerSec: 5, E2ECount: 7, E2EP99: 7 * ms}},
		{2500 * ms, Snapshot{Elapsed: 2500 * ms, Devices: 10, Connected: 1, ConnectedMax: 2, Sent: 13, Received: 7,
			Errors: 1, SentPerSec: 7, ReceivedPerSec: 7, E2ECount: 7, E2EP99: 7 * ms}},
		{time.Hour, Snapshot{Elapsed: time.Hour, Devices: 10, Connected: 1, ConnectedMax: 2, Sent: 13, Received: 7,
			Errors: 1, E2ECount: 7, E2EP99: 7 * ms}},
	}
	for _, tt := range tests {
		now = start.Add(tt.elapsed)
		if got := c.Snapshot(); got != tt.want {
			t.Errorf("Snapshot() at %v = %+v, want %+v", tt.elapsed, got, tt.want)
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
		{Snapshot{Elapsed: 12*time.Second + 900*ms, Devices: 1000, Connected: 1000, SentPerSec: 2003, E2ECount: 5, E2EP99: 1800 * time.Microsecond},
			30 * time.Second, "  12s/30s  connected 1000/1000  sent 2003/s  e2e p99 1.8ms  errors 0"},
		{Snapshot{Elapsed: 0, Connected: 3, Errors: 7}, 0, "  0s  connected 3  sent 0/s  e2e p99 -  errors 7"},
		{Snapshot{Elapsed: 63 * time.Second, Devices: 10, E2ECount: 1, E2EP99: 850 * time.Microsecond},
			2 * time.Hour, "  1m03s/2h00m00s  connected 0/10  sent 0/s  e2e p99 850µs  errors 0"},
		{Snapshot{Elapsed: 3723 * time.Second, E2ECount: 1, E2EP99: 1250 * ms},
			0, "  1h02m03s  connected 0  sent 0/s  e2e p99 1.25s  errors 0"},
	}
	for _, tt := range tests {
		if got := ProgressLine(tt.s, tt.total); got != tt.want {
			t.Errorf("ProgressLine(%+v, %v) = %q, want %q", tt.s, tt.total, got, tt.want)
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
