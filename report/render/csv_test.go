package render

import (
	"bytes"
	"math"
	"testing"

	"github.com/m2msim/m2msim/internal/golden"
)

func TestCSVGolden(t *testing.T) {
	for _, f := range fixtures {
		var b bytes.Buffer
		if err := CSV(&b, f.in().Points); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "timeseries"+f.name+".golden.csv", b.Bytes())
	}
}

func TestCSVFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1234567.25, "1234567.25"},
		{1e-7, "0.0000001"},
		{math.NaN(), ""},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
	}
	for _, tt := range tests {
		if got := csvFloat(tt.in); got != tt.want {
			t.Errorf("csvFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
