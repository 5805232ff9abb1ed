package render

import (
	"slices"
	"testing"

	"gonum.org/v1/plot/vg"
)

// Stage labels are drawn only where they fit: of a short ramp crowded by
// the hold after it, the hold keeps its name; a knee at the right edge
// flips to the left of its line.
func TestVmarksPlace(t *testing.T) {
	sty := textStyle(8, colGrey)
	w := func(s string) vg.Length { return sty.Width(s) }
	tests := []struct {
		name   string
		flip   bool
		marks  []mark
		right  vg.Length
		labels []string
	}{
		{"all fit", false, []mark{{x: 0, label: "ramp"}, {x: 100, label: "hold"}, {x: 200, label: "end"}}, 300,
			[]string{"ramp", "hold", "end"}},
		{"ramp crowded by its hold", false, []mark{{x: 0, label: "ramp-1k"}, {x: 10, label: "hold-1k"}, {x: 150, label: "ramp-2k"}, {x: 160, label: "hold-2k"}}, 400,
			[]string{"hold-1k", "hold-2k"}},
		{"last runs off the edge", false, []mark{{x: 0, label: "a"}, {x: 295, label: "hold-10k"}}, 300,
			[]string{"a"}},
		{"knee flips left", true, []mark{{x: 295, label: "knee: 10000 devices"}}, 300,
			[]string{"knee: 10000 devices"}},
		{"no room either side", true, []mark{{x: 5, label: "knee: 10000 devices"}}, 20, nil},
	}
	for _, tt := range tests {
		m := vmarks{text: sty, flip: tt.flip}
		got := m.place(tt.marks, 0, tt.right)
		var labels []string
		for i, mk := range got {
			labels = append(labels, mk.label)
			if mk.at < 0 || mk.at+w(mk.label) > tt.right {
				t.Errorf("%s: label %q at %v..%v, outside 0..%v", tt.name, mk.label, mk.at, mk.at+w(mk.label), tt.right)
			}
			if i > 0 && got[i-1].at+w(got[i-1].label) > mk.at {
				t.Errorf("%s: labels %q and %q overlap", tt.name, got[i-1].label, mk.label)
			}
		}
		if !slices.Equal(labels, tt.labels) {
			t.Errorf("%s: place = %q, want %q", tt.name, labels, tt.labels)
		}
	}
}
