package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const testSeed = 0x5eed

func TestUniformRange(t *testing.T) {
	cases := []struct {
		h    uint64
		n    int64
		want int64
	}{
		{0, 10, 0},
		{math.MaxUint64, 10, 9},
		{1 << 63, 10, 5},
		{1<<63 - 1, 10, 4},
		{math.MaxUint64, 1, 0},
		{math.MaxUint64, math.MaxInt64, math.MaxInt64 - 1},
		{12345, 0, 0},
		{12345, -5, 0},
	}
	for _, c := range cases {
		if got := uniform(c.h, c.n); got != c.want {
			t.Errorf("uniform(%#x, %d) = %d, want %d", c.h, c.n, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(testSeed, 1))
	for range 100_000 {
		h, n := r.Uint64(), 1+r.Int64N(1<<40)
		if got := uniform(h, n); got < 0 || got >= n {
			t.Fatalf("uniform(%#x, %d) = %d, want in [0, %d)", h, n, got, n)
		}
	}
}

// checkBuckets fails t unless every bucket holds its share of the total
// within tol (relative).
func checkBuckets(t *testing.T, what string, counts []int, tol float64) {
	t.Helper()
	total := 0
	for _, c := range counts {
		total += c
	}
	want := float64(total) / float64(len(counts))
	for i, c := range counts {
		if math.Abs(float64(c)-want) > tol*want {
			t.Errorf("%s: bucket %d holds %d of %d, want %.0f +/- %.0f%%", what, i, c, total, want, 100*tol)
		}
	}
}

func TestMixUniformBuckets(t *testing.T) {
	// Each of 10 buckets must hold 10% of the draws within 2% (relative).
	// At 1M draws a bucket's standard deviation is 0.95% of its share, so
	// 2% is about 6.7 sigma; at 100k draws it would be 2 sigma, a coin
	// flip over 10 buckets.
	const n, buckets = 1_000_000, 10
	inputs := map[string]func(i int) uint64{
		"slots of one device":  func(i int) uint64 { return mix(testSeed, 17, purposeTelemetry, uint64(i)) },
		"phases of devices":    func(i int) uint64 { return mix(testSeed, i, purposeCommand, 0) },
		"devices and slots":    func(i int) uint64 { return mix(testSeed, i%1000, purposeRequest, uint64(i/1000)) },
		"seeds of one device":  func(i int) uint64 { return mix(uint64(i), 3, purposeBackoff, 1) },
		"consecutive purposes": func(i int) uint64 { return mix(testSeed, i/5, purpose(1+i%5), 0) },
	}
	for name, in := range inputs {
		counts := make([]int, buckets)
		for i := range n {
			b := uniform(in(i), buckets)
			if b < 0 || b >= buckets {
				t.Fatalf("%s: uniform(mix(...), %d) = %d, want in [0, %d)", name, buckets, b, buckets)
			}
			counts[b]++
		}
		checkBuckets(t, name, counts, 0.02)
	}
}

func TestMixSeparatesInputs(t *testing.T) {
	base := mix(testSeed, 5, purposeTelemetry, 9)
	others := map[string]uint64{
		"seed":    mix(testSeed+1, 5, purposeTelemetry, 9),
		"device":  mix(testSeed, 6, purposeTelemetry, 9),
		"purpose": mix(testSeed, 5, purposeCommand, 9),
		"n":       mix(testSeed, 5, purposeTelemetry, 10),
	}
	for what, h := range others {
		if h == base {
			t.Errorf("mix with another %s = %#x, same as the base %#x", what, h, base)
		}
	}
	if again := mix(testSeed, 5, purposeTelemetry, 9); again != base {
		t.Errorf("mix(same inputs) = %#x, then %#x, want equal", base, again)
	}
}

func TestPeriodicWithoutJitter(t *testing.T) {
	for _, every := range []time.Duration{time.Millisecond, 10 * time.Second, 7*time.Minute + 3} {
		s := periodic{every: every, p: purposeTelemetry}
		for dev := range 10 {
			ph := s.phase(testSeed, dev)
			for k := range uint64(1000) {
				if got, want := s.due(testSeed, dev, k), ph+time.Duration(k)*every; got != want {
					t.Fatalf("periodic{every %v}.due(dev %d, slot %d) = %v, want %v", every, dev, k, got, want)
				}
			}
		}
	}
}

// checkJitter checks that 100k offsets of due times from their nominal
// slot times are uniform on [-j, j].
func checkJitter(t *testing.T, name string, offset func(i int) time.Duration, j time.Duration) {
	t.Helper()
	const n, buckets = 100_000, 10
	var sum, sumSq float64
	lo, hi := j, -j
	counts := make([]int, buckets)
	for i := range n {
		d := offset(i)
		if d < -j || d > j {
			t.Fatalf("%s %d: due is %v from its slot, want within +/- %v", name, i, d, j)
		}
		sum += float64(d)
		sumSq += float64(d) * float64(d)
		lo, hi = min(lo, d), max(hi, d)
		counts[min(buckets-1, int(float64(d+j)/float64(2*j)*buckets))]++
	}
	// Uniform on [-J, J]: mean 0 (sd of the mean J/sqrt(3n), 0.18% of J),
	// variance J^2/3 (sd of the estimate 0.28% of it).
	jf := float64(j)
	if mean := sum / n; math.Abs(mean) > 0.01*jf {
		t.Errorf("%s: mean jitter = %v, want 0 +/- %v", name, time.Duration(mean), j/100)
	}
	if v := sumSq / n; math.Abs(v-jf*jf/3) > 0.02*jf*jf/3 {
		t.Errorf("%s: jitter variance = %.4g, want J^2/3 = %.4g +/- 2%%", name, v, jf*jf/3)
	}
	if lo > -j+j/100 || hi < j-j/100 {
		t.Errorf("%s: jitter spans [%v, %v], want close to [%v, %v]", name, lo, hi, -j, j)
	}
	// A bucket's sd is 0.95% of its share at 100k draws: 5% is over 5 sigma.
	checkBuckets(t, name, counts, 0.05)
}

func TestPeriodicJitter(t *testing.T) {
	const every, j = 10 * time.Second, 2 * time.Second
	s := periodic{every: every, jitter: j, p: purposeTelemetry}
	const dev = 3
	ph := s.phase(testSeed, dev)
	checkJitter(t, "slot", func(i int) time.Duration {
		return s.due(testSeed, dev, uint64(i)) - ph - time.Duration(i)*every
	}, j)
	checkJitter(t, "device", func(i int) time.Duration {
		return s.due(testSeed, i, 5) - s.phase(testSeed, i) - 5*every
	}, j)
}

func TestPeriodicPhase(t *testing.T) {
	const devs = 10_000
	for _, every := range []time.Duration{time.Hour, 7*time.Millisecond + 3} {
		s := periodic{every: every, p: purposeTelemetry}
		aligned := periodic{every: every, aligned: true, p: purposeTelemetry}
		var sum float64
		for dev := range devs {
			ph := s.phase(testSeed, dev)
			if ph < 0 || ph >= every {
				t.Fatalf("periodic{every %v}.phase(dev %d) = %v, want in [0, %v)", every, dev, ph, every)
			}
			sum += float64(ph) / float64(every)
			if got := aligned.phase(testSeed, dev); got != 0 {
				t.Fatalf("aligned periodic{every %v}.phase(dev %d) = %v, want 0", every, dev, got)
			}
		}
		// sd of the mean of 10k uniform fractions: 0.29% of 1.
		if mean := sum / devs; math.Abs(mean-0.5) > 0.015 {
			t.Errorf("periodic{every %v}: mean phase = %.4f of every, want 0.5 +/- 0.015", every, mean)
		}
	}
}

func TestPeriodicSameSeedSameSchedule(t *testing.T) {
	s := periodic{every: time.Hour, jitter: time.Minute, p: purposeTelemetry}
	seen := make(map[time.Duration]int)
	for dev := range 1000 {
		again := s
		for k := range uint64(100) {
			if a, b := s.due(testSeed, dev, k), again.due(testSeed, dev, k); a != b {
				t.Fatalf("due(seed, dev %d, slot %d) = %v, then %v, want equal", dev, k, a, b)
			}
		}
		ph := s.phase(testSeed, dev)
		if other, dup := seen[ph]; dup {
			t.Errorf("devices %d and %d share phase %v, want distinct phases", other, dev, ph)
		}
		seen[ph] = dev
		if ph == s.phase(testSeed+1, dev) {
			t.Errorf("phase(dev %d) = %v under two seeds, want them to differ", dev, ph)
		}
		if cmd := (periodic{every: s.every, p: purposeCommand}); ph == cmd.phase(testSeed, dev) {
			t.Errorf("phase(dev %d) = %v for telemetry and commands, want them to differ", dev, ph)
		}
	}
}

func TestFirstSlot(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed, 2))
	for _, s := range []periodic{
		{every: 10 * time.Second, p: purposeTelemetry},
		{every: 7*time.Millisecond + 3, jitter: time.Millisecond, p: purposeRequest},
		{every: time.Minute, aligned: true, p: purposeCommand},
	} {
		for dev := range 50 {
			ph := s.phase(testSeed, dev)
			ts := []time.Duration{-time.Hour, -1, 0, 1, ph - 1, ph, ph + 1, ph + s.every - 1, ph + s.every, ph + s.every + 1, ph + 40*s.every}
			for range 50 {
				ts = append(ts, time.Duration(r.Int64N(int64(50*s.every))))
			}
			for _, tt := range ts {
				want := uint64(0)
				for ph+time.Duration(want)*s.every < tt {
					want++
				}
				if got := s.firstSlot(testSeed, dev, tt); got != want {
					t.Fatalf("%+v.firstSlot(dev %d (phase %v), %v) = %d, want %d", s, dev, ph, tt, got, want)
				}
			}
		}
	}
}

func TestLevel(t *testing.T) {
	const s = time.Second
	ramp := []Stage{{Duration: 10 * s, Devices: 100}}
	upDown := []Stage{{Duration: 10 * s, Devices: 100}, {Duration: 20 * s, Devices: 100}, {Duration: 10 * s, Devices: 0}}
	steps := []Stage{{Duration: 10 * s, Devices: 50}, {Duration: 10 * s, Devices: 150}, {Duration: 0, Devices: 20}, {Duration: 5 * s, Devices: 20}}
	cases := []struct {
		name   string
		stages []Stage
		t      time.Duration
		want   int
	}{
		{"no stages", nil, 0, 1000},
		{"no stages", nil, time.Hour, 1000},
		{"ramp", ramp, 0, 0},
		{"ramp", ramp, s, 10},
		{"ramp", ramp, 5 * s, 50},
		{"ramp", ramp, 10*s - 1, 99},
		{"ramp", ramp, 10 * s, 100},
		{"ramp", ramp, time.Hour, 100},
		{"up-hold-down", upDown, 5 * s, 50},
		{"up-hold-down", upDown, 10 * s, 100},
		{"up-hold-down", upDown, 20 * s, 100},
		{"up-hold-down", upDown, 35 * s, 50},
		{"up-hold-down", upDown, 39 * s, 10},
		{"up-hold-down", upDown, 40 * s, 0},
		{"up-hold-down", upDown, time.Hour, 0},
		{"steps", steps, 15 * s, 100},
		{"steps", steps, 20*s - 1, 149},
		{"steps", steps, 20 * s, 20},
		{"steps", steps, 24 * s, 20},
		{"steps", steps, time.Hour, 20},
	}
	for _, c := range cases {
		if got := level(c.stages, 1000, c.t); got != c.want {
			t.Errorf("level(%s, 1000, %v) = %d, want %d", c.name, c.t, got, c.want)
		}
	}
}

// Clock drift gives each device its own period within +/- ppm of the
// nominal one, uniformly, and moves its reports accordingly.
func TestPeriodicDrift(t *testing.T) {
	s := periodic{every: time.Minute, p: purposeTelemetry, driftPPM: 100}
	lo, hi := time.Minute-6*time.Millisecond, time.Minute+6*time.Millisecond
	var sum float64
	const n = 20000
	for dev := range n {
		per := s.period(7, dev)
		if per < lo || per > hi {
			t.Fatalf("device %d period %v, want within 100 ppm of 1m (+/- 6ms)", dev, per)
		}
		sum += float64(per - time.Minute)
		// Slot k is k drifted periods after the phase.
		if got, want := s.due(7, dev, 1440), s.phase(7, dev)+1440*per; got != want {
			t.Fatalf("device %d: due(1440) = %v, want %v", dev, got, want)
		}
	}
	if mean := time.Duration(sum / n); mean < -100*time.Microsecond || mean > 100*time.Microsecond {
		t.Errorf("mean drift %v, want about 0 (uniform in +/- 6 ms)", mean)
	}
	if s.period(7, 1) == s.period(7, 2) {
		t.Error("two devices drew the same drift")
	}
	if (periodic{every: time.Minute}).period(7, 1) != time.Minute {
		t.Error("no drift: period differs from every")
	}
}

// Burst gaps are exponential: mean as asked, P(gap > mean) = e^-1.
func TestBurstGapIsExponential(t *testing.T) {
	const n, mean = 100000, 10 * time.Minute
	var sum time.Duration
	over := 0
	for i := range n {
		g := burstGap(3, i%97, uint64(i), mean)
		if g < 0 {
			t.Fatalf("gap %v < 0", g)
		}
		sum += g
		if g > mean {
			over++
		}
	}
	if m := sum / n; m < mean*99/100 || m > mean*101/100 {
		t.Errorf("mean gap %v, want %v +/- 1%%", m, mean)
	}
	if p := float64(over) / n; math.Abs(p-math.Exp(-1)) > 0.005 {
		t.Errorf("P(gap > mean) = %.4f, want e^-1 = %.4f", p, math.Exp(-1))
	}
}
