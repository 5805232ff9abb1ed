package report

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// bruteJudged is the judged percentile perMille/10 by definition: sort the
// finished samples, put the missing flows after them, and take the
// nearest rank, ceil(p/100 * n); beyond when it lands on a missing flow.
func bruteJudged(finished []int64, missing int64, perMille int64) Judged {
	all := int64(len(finished)) + missing
	if all == 0 {
		return Judged{}
	}
	sorted := slices.Sorted(slices.Values(finished))
	// Exact rational ceiling, without the integer shortcut under test.
	k := perMille * all / 1000
	if k*1000 < perMille*all {
		k++
	}
	if k > int64(len(sorted)) {
		return beyond
	}
	return reached(float64(sorted[k-1]) / 1000)
}

// histOf records samples in µs, as the collector does.
func histOf(t *testing.T, samples []int64) (*hdr.PackedHistogram, int64) {
	t.Helper()
	h := hdr.NewPacked(histLowest, histHighest, histDigits)
	var maxUS int64
	for _, v := range samples {
		if err := h.RecordValue(v); err != nil {
			t.Fatalf("RecordValue(%d): %v", v, err)
		}
		maxUS = max(maxUS, v)
	}
	return h, maxUS
}

func seq(n int, f func(i int) int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestJudgedPercentile(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	// Samples stay under 2048 µs, where the histogram is exact, so the
	// brute force must match to the µs.
	tests := []struct {
		name     string
		finished []int64
		missing  int64
	}{
		{"empty", nil, 0},
		{"all missing", nil, 7},
		{"one sample", []int64{42}, 0},
		{"one sample, one missing", []int64{42}, 1},
		{"uniform 1..100", seq(100, func(i int) int64 { return int64(i + 1) }), 0},
		// p99 of 100 flows is rank 99: exactly the last finished one.
		{"p99 reachable at the boundary", seq(99, func(i int) int64 { return int64(i + 1) }), 1},
		{"p99 just beyond", seq(98, func(i int) int64 { return int64(i + 1) }), 2},
		// p99.9 of 1000 flows is rank 999.
		{"p99.9 reachable at the boundary", seq(999, func(i int) int64 { return int64(i%7 + 1) }), 1},
		{"p99.9 just beyond", seq(998, func(i int) int64 { return int64(i%7 + 1) }), 2},
		// p50 of 10 flows is rank 5.
		{"half missing", seq(5, func(i int) int64 { return int64(100 * (i + 1)) }), 5},
		{"more than half missing", seq(4, func(i int) int64 { return int64(100 * (i + 1)) }), 6},
		{"57.5% lost", seq(425, func(i int) int64 { return int64(i%300 + 1) }), 575},
		{"all equal", seq(1000, func(int) int64 { return 777 }), 3},
		{"bimodal", seq(10_000, func(i int) int64 { return []int64{3, 2000}[i%2] }), 50},
		{"random", seq(12_345, func(int) int64 { return r.Int64N(2047) + 1 }), 67},
		{"random, missing 1%", seq(9_900, func(int) int64 { return r.Int64N(2047) + 1 }), 100},
		{"random, missing just over 1%", seq(9_899, func(int) int64 { return r.Int64N(2047) + 1 }), 101},
	}
	for _, tt := range tests {
		h, maxUS := histOf(t, tt.finished)
		for _, pm := range perMilles {
			got := judgedPercentile(h, tt.missing, pm, maxUS)
			if want := bruteJudged(tt.finished, tt.missing, pm); got != want {
				t.Errorf("%s: judged p%v of %d finished + %d missing = %+v, want %+v",
					tt.name, float64(pm)/10, len(tt.finished), tt.missing, got, want)
			}
		}
	}
}

// Every small shape: ranks with every fraction, so that rounding a rank
// to the nearest instead of up shows.
func TestJudgedPercentileSweep(t *testing.T) {
	for n := range 120 {
		finished := seq(n, func(i int) int64 { return int64(i*17%n + 1) })
		h, maxUS := histOf(t, finished)
		for missing := range int64(6) {
			for _, pm := range perMilles {
				got, want := judgedPercentile(h, missing, pm, maxUS), bruteJudged(finished, missing, pm)
				if got != want {
					t.Errorf("judged p%v of %d finished + %d missing = %+v, want %+v", float64(pm)/10, n, missing, got, want)
				}
			}
		}
	}
}

// Above 2048 µs the histogram keeps 3 significant figures: the judged
// value is the top of the bucket holding the brute-force one, capped at
// the maximum.
func TestJudgedPercentileBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	samples := seq(50_000, func(int) int64 { return r.Int64N(10_000_000) + 1 })
	h, maxUS := histOf(t, samples)
	for _, missing := range []int64{0, 1, 49, 50, 51, 499, 500, 2000} {
		for _, pm := range perMilles {
			got, want := judgedPercentile(h, missing, pm, maxUS), bruteJudged(samples, missing, pm)
			if want.Beyond || got.Beyond {
				if got != want {
					t.Errorf("judged p%v with %d missing = %+v, want %+v", float64(pm)/10, missing, got, want)
				}
				continue
			}
			top := bucketTop(t, int64(want.V*1000+0.5))
			if w := float64(min(top, maxUS)) / 1000; got.V != w {
				t.Errorf("judged p%v with %d missing = %v ms, want %v ms (the bucket top of %v ms)", float64(pm)/10, missing, got.V, w, want.V)
			}
		}
	}
}

// bucketTop is the largest value the histogram does not tell from v.
func bucketTop(t *testing.T, v int64) int64 {
	h, _ := histOf(t, []int64{v})
	return h.ValueAtPercentile(100)
}

func TestJudgedRank(t *testing.T) {
	tests := []struct{ perMille, total, want int64 }{
		{500, 1, 1}, {500, 2, 1}, {500, 3, 2}, {990, 100, 99}, {990, 101, 100},
		{999, 1000, 999}, {999, 1001, 1000}, {999, 1, 1}, {900, 10, 9}, {990, 1e12, 99e10},
	}
	for _, tt := range tests {
		if got := judgedRank(tt.perMille, tt.total); got != tt.want {
			t.Errorf("judgedRank(%d, %d) = %d, want %d", tt.perMille, tt.total, got, tt.want)
		}
	}
}

func TestJudgedJSON(t *testing.T) {
	tests := []struct {
		j    Judged
		json string
	}{
		{reached(0), "0"},
		{reached(1.5), "1.5"},
		{reached(20.575), "20.575"},
		{reached(1e21), "1e+21"},
		{beyond, "null"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.j)
		if err != nil || string(b) != tt.json {
			t.Errorf("json.Marshal(%+v) = %s, %v, want %s", tt.j, b, err, tt.json)
		}
		var got Judged
		if err := json.Unmarshal([]byte(tt.json), &got); err != nil || got != tt.j {
			t.Errorf("json.Unmarshal(%s) = %+v, %v, want %+v", tt.json, got, err, tt.j)
		}
	}
	var j Judged
	if err := json.Unmarshal([]byte(`"fast"`), &j); err == nil {
		t.Errorf(`json.Unmarshal("fast") into Judged = nil error, want one`)
	}
}
