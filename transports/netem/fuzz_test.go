package netem

import (
	"math"
	"testing"
)

func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"1.5%", "0", "100%", "-3", "1e9", "%", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePercent(s)
		if err != nil {
			return
		}
		if math.IsNaN(float64(p)) || math.IsInf(float64(p), 0) {
			t.Fatalf("ParsePercent(%q) = %v, want a finite value", s, p)
		}
		if back, err := ParsePercent(p.String()); err != nil || back != p {
			t.Fatalf("ParsePercent(%q) = %v, %v, want %v", p.String(), back, err, p)
		}
		_ = p.prob()
	})
}

func FuzzParseBitrate(f *testing.F) {
	for _, s := range []string{"10kbit", "1mbit", "250kbps", "9600", "1.5GiBps", "-1bit", "e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseBitrate(s)
		if err != nil {
			return
		}
		if back, err := ParseBitrate(r.String()); err != nil || back != r {
			t.Fatalf("ParseBitrate(%q) = %v, %v, want %v", r.String(), back, err, r)
		}
	})
}

// Whatever parses formats back to the same Profile, and a valid one can
// shape packets without panicking.
func FuzzParseProfile(f *testing.F) {
	for _, s := range []string{
		"delay 100ms 20ms 25% distribution normal loss 1% 25%",
		"loss state 1% 30% 1% 60% 0.5% duplicate 1 corrupt 2 3",
		"delay 5ms reorder 25% 50% gap 3 rate 1mbit -14 125 3 slot 1ms 2ms packets 3 bytes 2kb limit 5 mode kernel",
		"loss gemodel 0.68% 33% 90 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProfile(s)
		if err != nil {
			return
		}
		back, err := ParseProfile(p.String())
		if err != nil || back != p {
			t.Fatalf("ParseProfile(%q) = %+v, %v; want %+v (from %q)", p.String(), back, err, p, s)
		}
		if p.Validate() != nil || p.Delay > 1e12 || p.Jitter > 1e12 || p.Slot.Max > 1e12 {
			return
		}
		pp := newTestPipe(t, p, false)
		for i := range 20 {
			pp.enqueueDatagram(int64(i)*1000, []byte{1, 2, 3}, nil, 0)
		}
		departures(pp, 0)
	})
}
