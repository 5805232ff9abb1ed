package sim

import (
	"math"
	"slices"
	"testing"
	"time"
)

// air puts frames on a fresh medium and returns which the gateway lost.
func air(capture bool, frames ...*frame) []bool {
	var a ether
	for _, f := range frames {
		f.shared, f.capture = true, capture
		a.transmit(f)
	}
	lost := make([]bool, len(frames))
	for i, f := range frames {
		lost[i] = a.lost(f)
	}
	return lost
}

func fr(start, end time.Duration, sf int, dB float64) *frame {
	return &frame{start: start, end: end, domain: sf, power: math.Pow(10, dB/10)}
}

func TestEtherCapture(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name    string
		capture bool
		frames  []*frame
		want    []bool
	}{
		{"aloha: same SF overlap loses both", false, []*frame{fr(0, s, 7, 10), fr(s/2, 2*s, 7, 0)}, []bool{true, true}},
		{"aloha: other SF never interferes", false, []*frame{fr(0, s, 7, 0), fr(0, s, 12, 40)}, []bool{false, false}},
		{"aloha: back to back is no overlap", false, []*frame{fr(0, s, 7, 0), fr(s, 2*s, 7, 0)}, []bool{false, false}},
		{"capture: equal power, both lost", true, []*frame{fr(0, s, 9, 0), fr(0, s, 9, 0)}, []bool{true, true}},
		{"capture: 10 dB stronger survives", true, []*frame{fr(0, s, 9, 10), fr(0, s, 9, 0)}, []bool{false, true}},
		{"capture: 5 dB is not enough", true, []*frame{fr(0, s, 9, 5), fr(0, s, 9, 0)}, []bool{true, true}},
		// A short overlap counts by its share of the frame's time on air:
		// a 10 % overlap of an equal frame is 10 dB down.
		{"capture: a glancing overlap", true, []*frame{fr(0, 10*s, 9, 0), fr(9*s, 19*s, 9, 0)}, []bool{false, false}},
		{"capture: SF12 under a strong SF7", true, []*frame{fr(0, s, 12, 0), fr(0, s, 7, 40)}, []bool{true, false}},
		{"capture: SF12 under a weaker SF7", true, []*frame{fr(0, s, 12, 0), fr(0, s, 7, 30)}, []bool{false, false}},
		{"capture: SF7 under a strong SF8", true, []*frame{fr(0, s, 7, 0), fr(0, s, 8, 17)}, []bool{true, false}},
	} {
		if got := air(tc.capture, tc.frames...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: lost %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The gateway demodulates 8 frames at once: a 9th that starts while 8 are
// on air is lost, even alone on its channel and spreading factor.
func TestEtherGatewayPaths(t *testing.T) {
	var frames []*frame
	for i := range 9 {
		f := fr(time.Duration(i)*time.Millisecond, time.Second, 7+i%6, 0)
		f.channel = i
		frames = append(frames, f)
	}
	late := fr(time.Second, 2*time.Second, 7, 0) // a path is free again
	late.channel = 20
	got := air(true, append(frames, late)...)
	want := []bool{false, false, false, false, false, false, false, false, true, false}
	if !slices.Equal(got, want) {
		t.Errorf("lost %v, want only the 9th", got)
	}
	if got := air(false, frames...); got[8] {
		t.Errorf("pure ALOHA has no gateway limit, but lost the 9th frame")
	}
}
