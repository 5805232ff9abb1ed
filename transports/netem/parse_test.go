package netem

import (
	"errors"
	"testing"
	"time"
)

func TestParseProfile(t *testing.T) {
	tests := []struct {
		in   string
		want Profile
	}{
		{"", Profile{}},
		{"delay 100ms", Profile{Delay: 100 * time.Millisecond}},
		{"delay 100ms 20ms 25% distribution normal", Profile{Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond, DelayCorr: 25, Distribution: Normal}},
		{"latency 100msec 10 loss 1%", Profile{Delay: 100 * time.Millisecond, Jitter: 10 * time.Microsecond, Loss: Loss{P: 1}}},
		{"loss random 1% 25%", Profile{Loss: Loss{P: 1, Corr: 25}}},
		{"loss state 1% 30% 1% 60% 0.5%", Profile{Loss: Loss{Model: LossState, P13: 1, P31: 30, P32: 1, P23: 60, P14: 0.5}}},
		{"loss gemodel 0.68% 33%", Profile{Loss: Loss{Model: LossGE, P: 0.68, R: 33}}},
		{"drop gemodel 1 10 70 0.1", Profile{Loss: Loss{Model: LossGE, P: 1, R: 10, H: 70, K: 0.1}}},
		{"duplicate 1% corrupt 0.1% 5%", Profile{Duplicate: 1, Corrupt: 0.1, CorruptCorr: 5}},
		{"delay 10ms reorder 25% 50% gap 5", Profile{Delay: 10 * time.Millisecond, Reorder: 25, ReorderCorr: 50, Gap: 5}},
		{"rate 10kbit", Profile{Rate: 10_000}},
		{"rate 1mbit -14 125 3", Profile{Rate: 1e6, PacketOverhead: -14, CellSize: 125, CellOverhead: 3}},
		{"slot 10ms", Profile{Slot: Slot{Min: 10 * time.Millisecond, Max: 10 * time.Millisecond}}},
		{"slot 800us 1ms packets 4 bytes 1kb", Profile{Slot: Slot{Min: 800 * time.Microsecond, Max: time.Millisecond, Packets: 4, Bytes: 1024}}},
		{"limit 50 mode kernel", Profile{Limit: 50, Mode: ModeKernel}},
	}
	for _, tt := range tests {
		got, err := ParseProfile(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseProfile(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
			continue
		}
		back, err := ParseProfile(got.String())
		if err != nil || back != got {
			t.Errorf("ParseProfile(%q) = %+v, %v: String %q does not read back", tt.in, back, err, got.String())
		}
	}
}

func TestParseProfileErrors(t *testing.T) {
	for _, in := range []string{
		"delay", "delay fast", "delay 1ms delay 2ms", "loss", "loss bursty 1%", "loss state", "rate", "rate 10 kbit",
		"slot", "slot distribution normal 1ms 1ms", "slot 1ms packets", "slot 1ms bytes lots", "limit many", "gap",
		"mode fast", "distribution weird", "ecn", "seed 5", "frobnicate", "duplicate 1%% 2",
	} {
		if p, err := ParseProfile(in); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseProfile(%q) = %+v, %v, want an ErrSyntax error", in, p, err)
		}
	}
}

func TestProfileString(t *testing.T) {
	p := Profile{
		Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond, DelayCorr: 25, Distribution: Pareto,
		Loss: Loss{Model: LossGE, P: 1, R: 30}, Duplicate: 1, Rate: 64_000, CellSize: 48,
		Slot: Slot{Min: time.Millisecond, Max: 2 * time.Millisecond, Bytes: 3000}, Limit: 10, Mode: ModeKernel,
	}
	want := "delay 100ms 20ms 25% distribution pareto loss gemodel 1% 30% duplicate 1% rate 64kbit 0 48 slot 1ms 2ms bytes 3000 limit 10 mode kernel"
	if got := p.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestOverride(t *testing.T) {
	base, err := ParseProfile("delay 100ms 20ms 25% distribution normal loss gemodel 1% 30% rate 1mbit 20 64 limit 50")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		over string
		want string
	}{
		{"", base.String()},
		{"delay 50ms", "delay 50ms distribution normal loss gemodel 1% 30% rate 1mbit 20 64 limit 50"},
		{"loss 2%", "delay 100ms 20ms 25% distribution normal loss 2% rate 1mbit 20 64 limit 50"},
		{"rate 10kbit limit 10", "delay 100ms 20ms 25% distribution normal loss gemodel 1% 30% rate 10kbit limit 10"},
		{"duplicate 1%", "delay 100ms 20ms 25% distribution normal loss gemodel 1% 30% duplicate 1% rate 1mbit 20 64 limit 50"},
	} {
		got, err := base.Override(tc.over)
		if err != nil {
			t.Fatalf("Override(%q): %v", tc.over, err)
		}
		want, err := ParseProfile(tc.want)
		if err != nil {
			t.Fatalf("ParseProfile(%q): %v", tc.want, err)
		}
		if got != want {
			t.Errorf("Override(%q) = %q, want %q", tc.over, got, want)
		}
	}
	if _, err := base.Override("delay soon"); err == nil {
		t.Error(`Override("delay soon") = nil error, want a syntax error`)
	}
}
