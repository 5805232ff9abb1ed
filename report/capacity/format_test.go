package capacity

import (
	"math"
	"testing"
)

func TestFmtMS(t *testing.T) {
	tests := []struct {
		ms   float64
		want string
	}{
		{0, "0 µs"},
		{0.0004, "0.4 µs"},
		{0.85, "850 µs"},
		{0.9996, "1 ms"},
		{1.2, "1.2 ms"},
		{88, "88 ms"},
		{250.4, "250 ms"},
		{999.6, "1 s"},
		{1840, "1.84 s"},
		{1843.7, "1.84 s"},
		{123456, "123 s"},
		{math.Inf(1), "beyond reach"},
		{math.NaN(), "unknown"},
	}
	for _, tt := range tests {
		if got := fmtMS(tt.ms); got != tt.want {
			t.Errorf("fmtMS(%v) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}

func TestFmtPct(t *testing.T) {
	tests := []struct {
		pct  float64
		want string
	}{
		{0, "0 %"},
		{3, "3 %"},
		{0.25, "0.25 %"},
		{12.345, "12.3 %"},
		{99.96, "100 %"},
		{0.001234, "0.00123 %"},
		{760, "760 %"},
	}
	for _, tt := range tests {
		if got := fmtPct(tt.pct); got != tt.want {
			t.Errorf("fmtPct(%v) = %q, want %q", tt.pct, got, tt.want)
		}
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{999, "999"},
		{1000, "1,000"},
		{65536, "65,536"},
		{1234567, "1,234,567"},
		{-7500, "-7,500"},
		{math.MinInt64, "-9,223,372,036,854,775,808"},
	}
	for _, tt := range tests {
		if got := count(tt.n); got != tt.want {
			t.Errorf("count(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestFmtQuantity(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0.5, "0.5"},
		{97, "97"},
		{144.1, "144"},
		{9560.1, "9,560"},
		{17329, "17,300"},
		{999.7, "1,000"},
		{2.5e20, "2.5e+20"},
		{math.Inf(1), "+Inf"},
	}
	for _, tt := range tests {
		if got := fmtQuantity(tt.v); got != tt.want {
			t.Errorf("fmtQuantity(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestFmtCoef(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{0.05, "0.05"},
		{0.0012345, "0.00123"},
		{3.0512e-6, "3.05e-06"},
	}
	for _, tt := range tests {
		if got := fmtCoef(tt.v); got != tt.want {
			t.Errorf("fmtCoef(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		words []string
		want  string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"a", "b"}, "a and b"},
		{[]string{"a", "b", "c"}, "a, b and c"},
	}
	for _, tt := range tests {
		if got := join(tt.words); got != tt.want {
			t.Errorf("join(%q) = %q, want %q", tt.words, got, tt.want)
		}
	}
}
