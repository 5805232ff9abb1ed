package sim

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want Rate
	}{
		{"500/s", Rate{500, time.Second}},
		{"30/m", Rate{30, time.Minute}},
		{"30/min", Rate{30, time.Minute}},
		{"10/1h", Rate{10, time.Hour}},
		{"10/h", Rate{10, time.Hour}},
		{"2/500ms", Rate{2, 500 * time.Millisecond}},
		{"1/ms", Rate{1, time.Millisecond}},
		{"3/1.5s", Rate{3, 1500 * time.Millisecond}},
		{" 7 / s ", Rate{7, time.Second}},
	}
	for _, c := range good {
		if got, err := ParseRate(c.in); err != nil || got != c.want {
			t.Errorf("ParseRate(%q) = %v, %v, want %v, nil", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "0/s", "-1/s", "5", "5/x", "5/0s", "5/-1s", "x/s", "5/", "/s", "1.5/s", "5/s/s", "5/1"} {
		got, err := ParseRate(in)
		if err == nil || got != (Rate{}) {
			t.Errorf("ParseRate(%q) = %v, %v, want an error", in, got, err)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParseRate(%q) = %v, want the error to quote the input", in, err)
		}
	}
}

func TestRateStringRoundTrip(t *testing.T) {
	cases := []struct {
		r    Rate
		want string
	}{
		{Rate{500, time.Second}, "500/s"},
		{Rate{30, time.Minute}, "30/m"},
		{Rate{10, time.Hour}, "10/h"},
		{Rate{2, 500 * time.Millisecond}, "2/500ms"},
		{Rate{1, 1500 * time.Millisecond}, "1/1.5s"},
	}
	for _, c := range cases {
		if got := c.r.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.r, got, c.want)
		}
		if back, err := ParseRate(c.r.String()); err != nil || back != c.r {
			t.Errorf("ParseRate(%q) = %v, %v, want %v, nil", c.r.String(), back, err, c.r)
		}
		b, err := c.r.MarshalText()
		var back Rate
		if err != nil || back.UnmarshalText(b) != nil || back != c.r {
			t.Errorf("UnmarshalText(MarshalText(%v) = %q, %v) = %v, want %v", c.r, b, err, back, c.r)
		}
	}
	r := Rate{1, time.Second}
	if err := r.UnmarshalText([]byte("0/s")); err == nil || r != (Rate{1, time.Second}) {
		t.Errorf("UnmarshalText(%q) = %v leaving %v, want an error leaving 1/s", "0/s", err, r)
	}
}

func TestRateInterval(t *testing.T) {
	cases := []struct {
		r    Rate
		want time.Duration
	}{
		{Rate{500, time.Second}, 2 * time.Millisecond},
		{Rate{30, time.Minute}, 2 * time.Second},
		{Rate{2, 500 * time.Millisecond}, 250 * time.Millisecond},
		{Rate{3, time.Second}, 333333333 * time.Nanosecond},
		{Rate{}, 0},
		{Rate{0, time.Second}, 0},
		{Rate{-1, time.Second}, 0},
		{Rate{1, 0}, 0},
		{Rate{1, -time.Second}, 0},
	}
	for _, c := range cases {
		if got := c.r.Interval(); got != c.want {
			t.Errorf("%#v.Interval() = %v, want %v", c.r, got, c.want)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"500/s", "30/m", "10/1h", "2/500ms", "", "0/s", "5/x", "1/1ns", "9223372036854775807/2562047h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r.Freq <= 0 || r.Per <= 0 {
			t.Fatalf("ParseRate(%q) = %#v, nil, want a positive count and period", s, r)
		}
		if back, err := ParseRate(r.String()); err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %v, %v, want %#v, nil", r.String(), back, err, r)
		}
	})
}

func TestParseBackoffPolicy(t *testing.T) {
	good := []struct {
		in   string
		want BackoffPolicy
	}{
		{"none", BackoffNone},
		{"fixed", BackoffFixed},
		{"exponential", BackoffExponential},
		{"full-jitter", BackoffFullJitter},
	}
	for _, c := range good {
		if got, err := ParseBackoffPolicy(c.in); err != nil || got != c.want {
			t.Errorf("ParseBackoffPolicy(%q) = %v, %v, want %v, nil", c.in, got, err, c.want)
		}
		if got := c.want.String(); got != c.in {
			t.Errorf("BackoffPolicy(%d).String() = %q, want %q", c.want, got, c.in)
		}
	}
	for _, in := range []string{"", "Fixed", "jitter", "exponential ", "full_jitter", "BackoffPolicy(9)"} {
		if got, err := ParseBackoffPolicy(in); err == nil {
			t.Errorf("ParseBackoffPolicy(%q) = %v, nil, want an error", in, got)
		}
	}
	if got := BackoffPolicy(9).String(); got != "BackoffPolicy(9)" {
		t.Errorf("BackoffPolicy(9).String() = %q, want %q", got, "BackoffPolicy(9)")
	}
}

func TestBackoffDelay(t *testing.T) {
	const ms = time.Millisecond
	exp := Backoff{Policy: BackoffExponential, Initial: 100 * ms, Max: time.Second}
	cases := []struct {
		b       Backoff
		attempt int
		want    time.Duration
		ok      bool
	}{
		{Backoff{Policy: BackoffNone, Initial: time.Second}, 0, 0, false},
		{Backoff{Policy: BackoffNone, Initial: time.Second}, 5, 0, false},
		{Backoff{Policy: BackoffPolicy(9), Initial: time.Second}, 0, 0, false},
		{Backoff{Policy: BackoffFixed, Initial: 250 * ms, Max: 100 * ms}, 0, 250 * ms, true},
		{Backoff{Policy: BackoffFixed, Initial: 250 * ms}, 1, 250 * ms, true},
		{Backoff{Policy: BackoffFixed, Initial: 250 * ms}, 1000, 250 * ms, true},
		{exp, 0, 100 * ms, true},
		{exp, 1, 200 * ms, true},
		{exp, 2, 400 * ms, true},
		{exp, 3, 800 * ms, true},
		{exp, 4, time.Second, true},
		{exp, 5, time.Second, true},
		{exp, 1 << 20, time.Second, true},
		{exp, -1, 100 * ms, true},
		{Backoff{Policy: BackoffExponential, Initial: 100 * ms}, 6, 6400 * ms, true},
		{Backoff{Policy: BackoffExponential, Initial: time.Second, Max: 500 * ms}, 0, 500 * ms, true},
		{Backoff{Policy: BackoffFullJitter, Max: time.Second}, 3, 0, true},
	}
	for _, c := range cases {
		got, ok := c.b.Delay(c.attempt, rand.New(rand.NewPCG(1, 2)))
		if got != c.want || ok != c.ok {
			t.Errorf("%+v.Delay(%d) = %v, %v, want %v, %v", c.b, c.attempt, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoffExponentialDoublesUpToMax(t *testing.T) {
	b := Backoff{Policy: BackoffExponential, Initial: 3 * time.Millisecond, Max: 10 * time.Second}
	prev, _ := b.Delay(0, nil)
	for a := 1; a < 40; a++ {
		got, ok := b.Delay(a, nil)
		if want := min(2*prev, b.Max); !ok || got != want {
			t.Fatalf("%+v.Delay(%d) = %v, %v, want %v, true", b, a, got, ok, want)
		}
		prev = got
	}
}

func TestBackoffFullJitter(t *testing.T) {
	const n = 100_000
	b := Backoff{Policy: BackoffFullJitter, Initial: 100 * time.Millisecond, Max: 5 * time.Second}
	for _, c := range []struct {
		attempt int
		cap     time.Duration
	}{{0, 100 * time.Millisecond}, {3, 800 * time.Millisecond}, {20, 5 * time.Second}} {
		r := rand.New(rand.NewPCG(7, uint64(c.attempt)))
		var sum float64
		lo, hi := c.cap, time.Duration(-1)
		for range n {
			d, ok := b.Delay(c.attempt, r)
			if !ok || d < 0 || d >= c.cap {
				t.Fatalf("%+v.Delay(%d) = %v, %v, want in [0, %v), true", b, c.attempt, d, ok, c.cap)
			}
			sum += float64(d)
			lo, hi = min(lo, d), max(hi, d)
		}
		// The mean of n uniform draws has a standard deviation of
		// cap/sqrt(12n), about 0.1% of cap/2 here: 2% is over 10 sigma.
		mean, half := sum/n, float64(c.cap)/2
		if mean < 0.98*half || mean > 1.02*half {
			t.Errorf("attempt %d: mean of %d draws = %v, want %v +/- 2%%", c.attempt, n, time.Duration(mean), time.Duration(half))
		}
		if lo > c.cap/100 || hi < c.cap-c.cap/100 {
			t.Errorf("attempt %d: draws span [%v, %v], want close to [0, %v)", c.attempt, lo, hi, c.cap)
		}
	}
}
