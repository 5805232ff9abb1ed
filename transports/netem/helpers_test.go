package netem

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// seqSource replays fixed 32-bit draws: rand.Rand.Uint32 returns them in
// order, as prandom_u32_state would.
type seqSource struct {
	vals []uint32
	i    int
}

func (s *seqSource) Uint64() uint64 {
	v := s.vals[s.i%len(s.vals)]
	s.i++
	return uint64(v) << 32
}

func seqRand(vals ...uint32) *rand.Rand { return rand.New(&seqSource{vals: vals}) }

// testRand is a fixed-seed source for statistical tests.
func testRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6e6574656d)) }

// newTestPipe builds a datagram pipe with fixed seeds at time 0.
func newTestPipe(t testing.TB, p Profile, stream bool) *pipe {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate(%v) = %v", p, err)
	}
	rnd, aux := newSources(1, 7, dirUp, 0)
	hdr := udp4Header
	if stream {
		hdr = tcp4Header
	}
	return newPipe(p, stream, hdr, rnd, aux, 0, new(counters), new(counters))
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// summary holds the statistics the statistical tests check.
type summary struct {
	mean, sd, p50, p99 float64
	lag1               float64
}

func summarize(xs []float64) summary {
	n := float64(len(xs))
	var s summary
	for _, x := range xs {
		s.mean += x
	}
	s.mean /= n
	var v, c float64
	for i, x := range xs {
		v += (x - s.mean) * (x - s.mean)
		if i > 0 {
			c += (x - s.mean) * (xs[i-1] - s.mean)
		}
	}
	s.sd = math.Sqrt(v / n)
	s.lag1 = c / v
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	s.p50 = sorted[len(sorted)/2]
	s.p99 = sorted[len(sorted)*99/100]
	return s
}

func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func goroutines() int { return runtime.NumGoroutine() }
