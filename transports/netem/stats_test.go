package netem

import (
	"math"
	"testing"
	"time"
)

const draws = 100_000

func delays(p Profile, seed uint64) summary {
	g := newDelayGen(p, testRand(seed))
	r := testRand(seed + 1)
	xs := make([]float64, draws)
	for i := range xs {
		xs[i] = float64(g.draw(r)) / 1e6 // ms
	}
	return summarize(xs)
}

// delay 100ms 20ms distribution normal: p50 within 1 ms of 100 ms, the
// standard deviation within 5% of 20 ms, in both modes; 100k draws.
func TestNormalDelay(t *testing.T) {
	for _, m := range []Mode{ModeModel, ModeKernel} {
		s := delays(Profile{Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond, Distribution: Normal, Mode: m}, 10)
		if !within(s.p50, 100, 1) || !within(s.sd, 20, 1) {
			t.Errorf("normal 100ms 20ms mode %v: p50 %.2f ms sd %.2f ms, want 100+-1, 20+-1", m, s.p50, s.sd)
		}
	}
}

// Uniform jitter (tc's default) spans [mu-sigma, mu+sigma): sd = sigma/sqrt(3).
func TestUniformDelay(t *testing.T) {
	for _, m := range []Mode{ModeModel, ModeKernel} {
		s := delays(Profile{Delay: 100 * time.Millisecond, Jitter: 30 * time.Millisecond, Mode: m}, 11)
		want := 30 / math.Sqrt(3)
		if !within(s.p50, 100, 1) || !within(s.sd, want, want*0.02) || s.p99 >= 130 {
			t.Errorf("uniform 100ms 30ms mode %v: p50 %.2f sd %.2f p99 %.2f, want 100, %.2f, < 130", m, s.p50, s.sd, s.p99, want)
		}
	}
}

// ModeModel draws through the same tables: its marginal matches the
// kernel's for every distribution (mean within 2% of sigma, sd within 5%).
func TestModelMarginalMatchesKernel(t *testing.T) {
	for _, d := range []Distribution{Normal, Pareto, ParetoNormal} {
		p := Profile{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond, Distribution: d}
		model := delays(p, 12)
		p.Mode = ModeKernel
		kernel := delays(p, 12)
		if !within(model.mean, kernel.mean, 0.2) || !within(model.sd, kernel.sd, kernel.sd*0.05) || !within(model.p50, kernel.p50, 0.2) {
			t.Errorf("%v: model mean %.2f sd %.2f p50 %.2f, kernel %.2f %.2f %.2f", d, model.mean, model.sd, model.p50, kernel.mean, kernel.sd, kernel.p50)
		}
	}
}

// The AR(1) copula keeps the marginal (p50 and sd as uncorrelated) and
// gives the asked lag-1 correlation within 0.05.
func TestModelDelayCorrelation(t *testing.T) {
	for _, tt := range []struct {
		d   Distribution
		rho Percent
	}{{Normal, 50}, {Normal, 90}, {Uniform, 50}, {Uniform, 80}, {Pareto, 25}, {Pareto, 50}, {Pareto, 90}, {ParetoNormal, 50}} {
		p := Profile{Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond, Distribution: tt.d}
		base := delays(p, 13)
		p.DelayCorr = tt.rho
		s := delays(p, 13)
		if !within(s.lag1, float64(tt.rho)/100, 0.05) {
			t.Errorf("%v corr %v: lag-1 %.3f, want %.2f+-0.05", tt.d, tt.rho, s.lag1, float64(tt.rho)/100)
		}
		if !within(s.p50, base.p50, 1) || !within(s.sd, base.sd, base.sd*0.05) {
			t.Errorf("%v corr %v: p50 %.2f sd %.2f, uncorrelated %.2f %.2f", tt.d, tt.rho, s.p50, s.sd, base.p50, base.sd)
		}
	}
}

func lossRun(p Profile, seed uint64) (rate, meanBurst float64) {
	g := newLossGen(p, testRand(seed))
	r := testRand(seed + 1)
	lost, bursts, run := 0, 0, 0
	for range draws {
		if g.event(r) {
			lost++
			run++
			continue
		}
		if run > 0 {
			bursts++
			run = 0
		}
	}
	if run > 0 {
		bursts++
	}
	return 100 * float64(lost) / draws, float64(lost) / float64(max(1, bursts))
}

// loss 5%: 5.0 +- 0.3% in both modes.
func TestRandomLoss(t *testing.T) {
	for _, m := range []Mode{ModeModel, ModeKernel} {
		if got, _ := lossRun(Profile{Loss: Loss{P: 5}, Mode: m}, 20); !within(got, 5, 0.3) {
			t.Errorf("loss 5%% mode %v: lost %.2f%%, want 5.0+-0.3", m, got)
		}
	}
}

// loss gemodel 0.68% 33%: pi_B = p/(p+r) = 2.02% lost in bursts of mean
// 1/r = 3.03, both within 10%.
func TestGilbertElliottLoss(t *testing.T) {
	for _, m := range []Mode{ModeModel, ModeKernel} {
		rate, burst := lossRun(Profile{Loss: Loss{Model: LossGE, P: 0.68, R: 33}, Mode: m}, 21)
		if !within(rate, 2.02, 0.202) || !within(burst, 3.03, 0.303) {
			t.Errorf("gemodel 0.68%% 33%% mode %v: loss %.3f%% mean burst %.2f, want 2.02+-10%%, 3.03+-10%%", m, rate, burst)
		}
	}
}

// loss state p13 with tc's defaults is Bernoulli(p13).
func TestFourStateDefaultsAreBernoulli(t *testing.T) {
	rate, burst := lossRun(Profile{Loss: Loss{Model: LossState, P13: 5}}, 22)
	if !within(rate, 5, 0.3) || !within(burst, 1/(1-0.05), 0.05) {
		t.Errorf("loss state 5%%: %.2f%% bursts %.3f, want 5.0+-0.3%%, 1.05", rate, burst)
	}
}

// The model's correlated decisions keep their rate and have the asked
// lag-1 correlation.
func TestModelBernoulliCorrelation(t *testing.T) {
	for _, tt := range []struct{ p, corr Percent }{{10, 50}, {1, 25}, {30, 80}} {
		b := newBern(tt.p, tt.corr, ModeModel, testRand(30))
		r := testRand(31)
		xs := make([]float64, 4*draws)
		for i := range xs {
			if b.event(r) {
				xs[i] = 1
			}
		}
		s := summarize(xs)
		if !within(100*s.mean, float64(tt.p), float64(tt.p)*0.06) || !within(s.lag1, float64(tt.corr)/100, 0.05) {
			t.Errorf("bern %v %v: rate %.3f%% lag-1 %.3f", tt.p, tt.corr, 100*s.mean, s.lag1)
		}
	}
}
