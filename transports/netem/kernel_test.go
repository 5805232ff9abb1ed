package netem

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Reference vectors computed outside Go, with Python integers following
// sch_netem.c's C arithmetic (64-bit products, truncating division) and
// the .dist tables iproute2 6.1 ships.
func TestCrandKernelVectors(t *testing.T) {
	tests := []struct {
		rho, last uint32
		in, want  []uint32
	}{
		{0, 1390851128, []uint32{4071050724, 647892279, 1695753998, 2795742288}, []uint32{4071050724, 647892279, 1695753998, 2795742288}},
		{1073741824, 207388624, []uint32{311111475, 3527346212, 2301595691, 404285457}, []uint32{285180762, 2716804848, 2405397980, 904563588}},
		{3865470566, 1570621944, []uint32{2503055453, 249103477, 3907149204, 2179419893}, []uint32{1663865294, 1522389112, 1760865120, 1802720597}},
		{4294967295, 922121676, []uint32{161042648, 369140570, 1862494042, 1796035739}, []uint32{922121676, 922121676, 922121676, 922121676}},
	}
	for _, tt := range tests {
		c := crand{rho: tt.rho, last: tt.last}
		r := seqRand(tt.in...)
		for i, want := range tt.want {
			if got := c.next(r); got != want {
				t.Errorf("crand(rho=%d) draw %d = %d, want %d", tt.rho, i, got, want)
			}
		}
	}
}

func TestTabledistKernelVectors(t *testing.T) {
	tests := []struct {
		mu    int64
		sigma int32
		dist  Distribution
		rnd   uint32
		want  int64
	}{
		{100000000, 20000000, Normal, 0, 20000000},
		{100000000, 20000000, Normal, 2048, 100000000},
		{100000000, 20000000, Normal, 4095, 170454102},
		{100000000, 20000000, Normal, 123456789, 118129883},
		{100000000, 20000000, Normal, 4294967295, 170454102},
		{100000000, 20000000, Normal, 300026767, 111801758},
		{100000000, 20000000, Uniform, 0, 80000000},
		{100000000, 20000000, Uniform, 4095, 80004095},
		{100000000, 20000000, Uniform, 123456789, 83456789},
		{100000000, 20000000, Uniform, 4294967295, 94967295},
		{100000000, 20000000, Uniform, 1033639716, 113639716},
		{50000000, 12345678, Pareto, 0, 41770050},
		{50000000, 12345678, Pareto, 2048, 46048539},
		{50000000, 12345678, Pareto, 4095, 99381205},
		{50000000, 12345678, Pareto, 389609433, 45917427},
		{0, 8191, ParetoNormal, 0, -12303},
		{0, 8191, ParetoNormal, 2048, -1966},
		{0, 8191, ParetoNormal, 4095, 31785},
		{0, 8191, ParetoNormal, 2366729934, 10114},
		{5000000, 2147483647, Normal, 0, -8584934588},
		{5000000, 2147483647, Normal, 4095, 7569951548},
		{5000000, 2147483647, Normal, 123456789, 1951681343},
		{5000000, 2147483647, Normal, 1823296038, 742148928},
		{1000, 3, Normal, 0, 988},
		{1000, 3, Normal, 4095, 1011},
		{1000, 3, Normal, 253877686, 1003},
		{10000000, 10000001, Uniform, 0, -1},
		{10000000, 10000001, Uniform, 4294967295, 14966866},
		{-7, 9000, Pareto, 0, -6007},
		{-7, 9000, Pareto, 2048, -2888},
		{-7, 9000, Pareto, 4095, 35992},
		{-7, 9000, Pareto, 2428605135, -5209},
	}
	for _, tt := range tests {
		c := crand{}
		got := tabledist(tt.mu, tt.sigma, &c, seqRand(tt.rnd), tt.dist.table())
		if got != tt.want {
			t.Errorf("tabledist(%d, %d, %v, rnd=%d) = %d, want %d", tt.mu, tt.sigma, tt.dist, tt.rnd, got, tt.want)
		}
	}
}

// The generated tables equal, entry for entry, the ones iproute2 ships
// (Debian's iproute2 package installs them under /usr/lib/*/tc).
func TestTablesMatchIproute2(t *testing.T) {
	for _, d := range []Distribution{Normal, Pareto, ParetoNormal} {
		want := readDist(t, iproute2Table(t, d.String()))
		got := d.table()
		if len(want) != distSize {
			t.Fatalf("%s.dist has %d entries, want %d", d, len(want), distSize)
		}
		for k := range distSize {
			if got[k] != want[k] {
				t.Errorf("%s[%d] = %d, want %d (iproute2)", d, k, got[k], want[k])
			}
		}
	}
	spot := []struct {
		d    Distribution
		k    int
		want int16
	}{
		{Normal, 0, -32768}, {Normal, 2048, 0}, {Normal, 4095, 28858},
		{Pareto, 0, -5461}, {Pareto, 4095, math.MaxInt16}, {Pareto, 2048, -2622},
		{ParetoNormal, 0, -12305}, {ParetoNormal, 2048, -1966},
	}
	for _, s := range spot {
		if got := s.d.table()[s.k]; got != s.want {
			t.Errorf("%s[%d] = %d, want %d", s.d, s.k, got, s.want)
		}
	}
}

// iproute2Table finds tc's installed distribution table name.dist. It
// skips when CI is unset and the tables are missing, and fails under CI,
// whose script installs iproute2.
func iproute2Table(t *testing.T, name string) string {
	t.Helper()
	paths, _ := filepath.Glob("/usr/lib/*/tc/" + name + ".dist")
	paths = append(paths, "/usr/lib/tc/"+name+".dist", "/usr/share/tc/"+name+".dist")
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skipf("iproute2's %s.dist not installed: run .ci/servers (or apt-get install iproute2)", name)
	}
	t.Fatalf("iproute2's %s.dist not found under /usr/lib/*/tc: .ci/run installs iproute2", name)
	return ""
}

func readDist(t *testing.T, path string) []int16 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int16
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		for _, w := range strings.Fields(sc.Text()) {
			v, err := strconv.Atoi(w)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, int16(v))
		}
	}
	return out
}

// The 4-state model traced by hand: p13 = 25%, p31 = 50%, p32 = 25%,
// p23 = 50%, p14 = 10%, and draws chosen around the thresholds.
func TestFourStateKernel(t *testing.T) {
	p := Profile{Loss: Loss{Model: LossState, P13: 25, P31: 50, P32: 25, P23: 50, P14: 10}, Mode: ModeKernel}
	const q = 1 << 32 / 100 // one percent of the u32 range, roughly
	draws := []struct {
		rnd       uint32
		lost      bool
		nextState uint8
	}{
		{50 * q, false, txInGap},   // gap: >= p14+p13 stays
		{5 * q, true, lostInGap},   // gap: < p14: isolated loss
		{99 * q, false, txInGap},   // isolated loss always returns to gap
		{20 * q, true, lostInBurs}, // gap: < p14+p13: burst
		{90 * q, true, lostInBurs}, // burst: >= p32+p31 stays lost
		{10 * q, false, txInBurst}, // burst: < p32: good inside the burst
		{70 * q, false, txInBurst}, // burst-good: >= p23 stays
		{30 * q, true, lostInBurs}, // burst-good: < p23: lost again
		{60 * q, false, txInGap},   // burst: < p32+p31: back to the gap
	}
	vals := make([]uint32, len(draws))
	for i, d := range draws {
		vals[i] = d.rnd
	}
	g := newLossGen(p, testRand(1))
	r := seqRand(vals...)
	for i, d := range draws {
		if got := g.event(r); got != d.lost || g.state != d.nextState {
			t.Errorf("draw %d (%d): lost %v state %d, want %v %d", i, d.rnd, got, g.state, d.lost, d.nextState)
		}
	}
}

// Gilbert-Elliott traced by hand: p = 10%, r = 40%, 1-h = 80%, 1-k = 5%.
// Two draws a packet: the transition, then the loss against the state
// the packet started in.
func TestGilbertElliottKernel(t *testing.T) {
	p := Profile{Loss: Loss{Model: LossGE, P: 10, R: 40, H: 80, K: 5}, Mode: ModeKernel}
	const q = 1 << 32 / 100
	steps := []struct {
		trans, loss uint32
		lost        bool
		next        uint8
	}{
		{50 * q, 4 * q, true, stateGood},  // good, 4% < 1-k: lost
		{50 * q, 6 * q, false, stateGood}, // good, 6% >= 1-k: sent
		{5 * q, 50 * q, false, stateBad},  // good -> bad; loss judged as good
		{50 * q, 30 * q, true, stateBad},  // bad: r' = 30% > h = 20%: lost
		{50 * q, 10 * q, false, stateBad}, // bad: 10% <= h: sent
		{30 * q, 90 * q, true, stateGood}, // bad -> good; judged as bad: lost
	}
	var vals []uint32
	for _, s := range steps {
		vals = append(vals, s.trans, s.loss)
	}
	g := newLossGen(p, testRand(1))
	r := seqRand(vals...)
	for i, s := range steps {
		if got := g.event(r); got != s.lost || g.state != s.next {
			t.Errorf("packet %d: lost %v state %d, want %v %d", i, got, g.state, s.lost, s.next)
		}
	}
}

// RADIO.md 0.2: sch_netem's crand collapses correlated random loss, and
// ModeModel keeps the asked rate. 200k draws each.
func TestCorrelatedLoss(t *testing.T) {
	tests := []struct {
		p, corr  Percent
		mode     Mode
		min, max float64 // percent lost
	}{
		{1, 25, ModeKernel, 0, 0.02},
		{5, 25, ModeKernel, 0.1, 0.3},
		{20, 50, ModeKernel, 2.5, 3.5},
		{1, 25, ModeModel, 0.9, 1.1},
		{5, 25, ModeModel, 4.8, 5.2},
		{20, 50, ModeModel, 19.5, 20.5},
	}
	for _, tt := range tests {
		p := Profile{Loss: Loss{P: tt.p, Corr: tt.corr}, Mode: tt.mode}
		g := newLossGen(p, testRand(2))
		r := testRand(3)
		const n = 200_000
		lost := 0
		for range n {
			if g.event(r) {
				lost++
			}
		}
		got := 100 * float64(lost) / n
		if got < tt.min || got > tt.max {
			t.Errorf("loss %v %v mode %v: lost %.3f%%, want %.2f..%.2f%%", tt.p, tt.corr, tt.mode, got, tt.min, tt.max)
		}
	}
}

// sch_netem's delay correlation has no effect: crand is correlated in its
// high bits, the uniform draw and the table index use the low ones.
func TestKernelDelayCorrelationIsIneffective(t *testing.T) {
	for _, d := range []Distribution{Uniform, Normal} {
		p := Profile{Delay: 100e6, Jitter: 10e6, DelayCorr: 90, Distribution: d, Mode: ModeKernel}
		g := newDelayGen(p, testRand(4))
		r := testRand(5)
		xs := make([]float64, 100_000)
		for i := range xs {
			xs[i] = float64(g.draw(r))
		}
		if s := summarize(xs); math.Abs(s.lag1) > 0.02 {
			t.Errorf("kernel %v delay 100ms 10ms 90%%: lag-1 correlation %.3f, want ~0", d, s.lag1)
		}
	}
}
