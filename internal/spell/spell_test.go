package spell

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"qos", "qos", 0},
		{"qso", "qos", 1},
		{"rn", "run", 1},
		{"keep_alive", "keepalive", 1},
		{"vaildate", "validate", 1},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment, not full Damerau (2)
		{strings.Repeat("a", 65), "a", 66},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
