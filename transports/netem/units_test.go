package netem

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in   string
		want Percent
		ok   bool
	}{
		{"1.5%", 1.5, true}, {"1.5", 1.5, true}, {"0%", 0, true}, {"100%", 100, true},
		{"140%", 140, true}, {" 25% ", 25, true}, {"1e-3%", 0.001, true},
		{"", 0, false}, {"%", 0, false}, {"abc", 0, false}, {"NaN%", 0, false}, {"Inf", 0, false}, {"1 %", 0, false},
	}
	for _, tt := range tests {
		got, err := ParsePercent(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePercent(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("ParsePercent(%q) error %v does not wrap ErrSyntax", tt.in, err)
		}
	}
}

func TestPercentProb(t *testing.T) {
	tests := []struct {
		p    Percent
		want uint32
	}{{0, 0}, {100, 1<<32 - 1}, {50, 2147483648}, {1, 42949673}, {-5, 0}, {150, 1<<32 - 1}}
	for _, tt := range tests {
		if got := tt.p.prob(); got != tt.want {
			t.Errorf("Percent(%v).prob() = %d, want %d", tt.p, got, tt.want)
		}
	}
}

func TestParseBitrate(t *testing.T) {
	tests := []struct {
		in   string
		want Bitrate
		ok   bool
	}{
		{"10kbit", 10_000, true}, {"1mbit", 1_000_000, true}, {"1.5Mbit", 1_500_000, true},
		{"250kbps", 2_000_000, true}, {"100bps", 800, true}, {"9600", 9600, true}, {"9600bit", 9600, true},
		{"1kibit", 1024, true}, {"1MiBps", 8 << 20, true}, {"2gbit", 2e9, true}, {"1tbit", 1e12, true},
		{"", 0, false}, {"kbit", 0, false}, {"10 kbit", 0, false}, {"10furlongs", 0, false}, {"1e30tbit", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseBitrate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseBitrate(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for _, r := range []Bitrate{10_000, 1_500_000, 9600, 1, 0, 2e12} {
		if got, err := ParseBitrate(r.String()); got != r || err != nil {
			t.Errorf("ParseBitrate(%q) = %v, %v, want %v", r.String(), got, err, r)
		}
	}
}

func TestTextMarshaling(t *testing.T) {
	var p Percent
	var r Bitrate
	var d Distribution
	var m Mode
	var lm LossModel
	for _, tt := range []struct {
		u  interface{ UnmarshalText([]byte) error }
		in string
	}{{&p, "2.5%"}, {&r, "64kbit"}, {&d, "paretonormal"}, {&m, "kernel"}, {&lm, "gemodel"}} {
		if err := tt.u.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalText(%q) = %v", tt.in, err)
		}
		out, _ := tt.u.(interface{ MarshalText() ([]byte, error) }).MarshalText()
		if string(out) != tt.in {
			t.Errorf("MarshalText after UnmarshalText(%q) = %q", tt.in, out)
		}
		if err := tt.u.UnmarshalText([]byte("bogus")); !errors.Is(err, ErrSyntax) {
			t.Errorf("%T.UnmarshalText(bogus) = %v, want ErrSyntax", tt.u, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		p    Profile
		want []string // substrings of the joined error; nil: valid
	}{
		{Profile{}, nil},
		{Profile{Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond, Distribution: Normal, Loss: Loss{P: 1, Corr: 25}}, nil},
		{Profile{Loss: Loss{Model: LossGE, P: 0.68, R: 33}}, nil},
		{Profile{Delay: time.Millisecond, Reorder: 25, Gap: 5}, nil},
		{Profile{Rate: 10_000, PacketOverhead: -14, CellSize: 48, CellOverhead: 5}, nil},
		{Profile{Loss: Loss{P: 140}}, []string{"loss: must be within 0..100%, got 140%"}},
		{Profile{Delay: -time.Second, Jitter: -1}, []string{"delay: must not be negative, got -1s", "jitter: must not be negative"}},
		{Profile{Reorder: 10}, []string{"reorder: needs a delay"}},
		{Profile{Delay: 1, Gap: 3}, []string{"gap: needs a reorder probability"}},
		{Profile{Rate: 5}, []string{"rate: must be 0 (unlimited) or at least 8bit"}},
		{Profile{CellSize: 10}, []string{"rate: packet overhead and cells need a rate"}},
		{Profile{Slot: Slot{Min: 10, Max: 5}}, []string{"slot: max 5ns is below min 10ns"}},
		{Profile{Slot: Slot{Packets: 3}}, []string{"slot: packets and bytes need a min or max delay"}},
		{Profile{Limit: -1}, []string{"limit: must not be negative"}},
		{Profile{Loss: Loss{Model: LossState, P13: 1, R: 3}}, []string{"loss: the state model takes only"}},
		{Profile{Loss: Loss{Model: 9}}, []string{"loss: unknown model 9"}},
		{Profile{Mode: 7, Distribution: 9}, []string{"mode: unknown mode 7", "distribution: unknown distribution 9"}},
		{Profile{Duplicate: 101, CorruptCorr: -1}, []string{"duplicate: must be within", "corrupt correlation: must be within"}},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if tt.want == nil {
			if err != nil {
				t.Errorf("Validate(%v) = %v, want nil", tt.p, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%v) = %v, want ErrInvalid", tt.p, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Validate(%v) = %q, want it to contain %q", tt.p, err, w)
			}
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("Validate(%v) holds no *FieldError", tt.p)
		}
	}
	l := Link{Up: Profile{Loss: Loss{P: 200}}, Down: Profile{Limit: -2}}
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "up loss:") || !strings.Contains(err.Error(), "down limit:") {
		t.Errorf("Link.Validate() = %v, want up and down problems", err)
	}
}
