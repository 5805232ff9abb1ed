package capacity_test

import (
	"math"
	"testing"

	"github.com/m2msim/m2msim/report/capacity"
)

// hockeyStick is p99 against 10 loads, flat at 20 ms up to index bend and
// then climbing 100 ms a step, steeper than the diagonal of the normalised
// curve, so the knee is at bend.
func hockeyStick(bend int) (x, y []float64) {
	for i := range 10 {
		x = append(x, float64(1000*(i+1)))
		y = append(y, 20+100*float64(max(0, i-bend)))
	}
	return x, y
}

func TestKneedleHockeyStick(t *testing.T) {
	for _, bend := range []int{1, 2, 5, 8} {
		x, y := hockeyStick(bend)
		if i, ok := capacity.Kneedle(x, y, 1); !ok || i != bend {
			t.Errorf("Kneedle(hockey stick bent at %d) = %d, %v, want %d, true", bend, i, ok, bend)
		}
	}
}

// TestKneedleRotatedInverse takes the concave curve y = 5 − 1/x on
// [1, 10], whose Kneedle knee is where the normalised slope
// (1/x²)·9/0.9 is 1, x = √10, and rotates it by 180° into an increasing
// convex curve: x' = 11 − x, y' = 5 − 1/(11 − x') mirrored, with the knee
// at x' = 11 − √10.
func TestKneedleRotatedInverse(t *testing.T) {
	const step = 0.05
	var x, y []float64
	for v := 1.0; v <= 10+1e-9; v += step {
		x = append(x, v)
		y = append(y, 1/(11-v)) // 5 − (5 − 1/x) at x = 11 − v, shifted to start at 0.1
	}
	want := 11 - math.Sqrt(10)
	i, ok := capacity.Kneedle(x, y, 1)
	if !ok || math.Abs(x[i]-want) > step {
		t.Errorf("Kneedle(1/(11−x)) = x %v, %v, want x within %v of %v", x[i], ok, step, want)
	}
}

func TestKneedle(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name   string
		x, y   []float64
		s      float64
		want   int
		wantOK bool
	}{
		{"five stages", []float64{1000, 2500, 5000, 7500, 10000}, []float64{42, 45, 51, 88, 1840}, 1, 3, true},
		{"unsorted keeps indices", []float64{7500, 1000, 10000, 5000, 2500}, []float64{88, 42, 1840, 51, 45}, 1, 0, true},
		{"non-finite points dropped", []float64{1000, 2500, nan, 5000, 7500, 10000}, []float64{42, 45, 60, 51, 88, 1840}, 1, 4, true},
		{"infinite y dropped", []float64{1000, 2500, 5000, 7500, 10000, 12000}, []float64{42, 45, 51, 88, 1840, inf}, 1, 3, true},
		{"zero sensitivity means 1", []float64{1000, 2500, 5000, 7500, 10000}, []float64{42, 45, 51, 88, 1840}, 0, 3, true},
		{"high sensitivity confirms nothing", []float64{1000, 2500, 5000, 7500, 10000}, []float64{42, 45, 51, 88, 1840}, 10, -1, false},
		{"flat", []float64{1, 2, 3, 4, 5}, []float64{40, 40, 40, 40, 40}, 1, -1, false},
		{"straight line", []float64{1, 2, 3, 4, 5}, []float64{10, 20, 30, 40, 50}, 1, -1, false},
		{"concave", []float64{1, 2, 3, 4, 5}, []float64{10, 50, 70, 75, 77}, 1, -1, false},
		{"three stages, the last climbs", []float64{1000, 2000, 3000}, []float64{40, 41, 2000}, 1, 1, true},
		{"noisy line", []float64{1, 2, 3, 4, 5, 6, 7, 8}, []float64{10, 21, 29, 41, 50, 59, 71, 80}, 1, -1, false},
		{"climbs then falls back", []float64{1, 2, 3, 4, 5}, []float64{10, 10, 10, 90, 50}, 1, 2, true},
		{"two points", []float64{1, 2}, []float64{10, 100}, 1, -1, false},
		{"one x", []float64{5, 5, 5}, []float64{1, 2, 30}, 1, -1, false},
		{"lengths differ", []float64{1, 2, 3, 4}, []float64{1, 2, 3}, 1, -1, false},
		{"empty", nil, nil, 1, -1, false},
	}
	for _, tt := range tests {
		i, ok := capacity.Kneedle(tt.x, tt.y, tt.s)
		if i != tt.want || ok != tt.wantOK {
			t.Errorf("Kneedle(%s: %v, %v, %v) = %d, %v, want %d, %v", tt.name, tt.x, tt.y, tt.s, i, ok, tt.want, tt.wantOK)
		}
	}
}
