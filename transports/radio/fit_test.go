package radio

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

func TestFitDelayRoundTrip(t *testing.T) {
	tests := []struct {
		d           netem.Distribution
		median, p95 time.Duration
	}{
		{netem.Pareto, 400 * time.Millisecond, 2 * time.Second},
		{netem.Pareto, 50 * time.Millisecond, 200 * time.Millisecond},
		{netem.ParetoNormal, 30 * time.Millisecond, 60 * time.Millisecond},
		{netem.Normal, 100 * time.Millisecond, 150 * time.Millisecond},
		{netem.Uniform, 100 * time.Millisecond, 190 * time.Millisecond},
	}
	for _, tt := range tests {
		delay, jitter := fitDelay(tt.d, tt.median, tt.p95)
		p := netem.Profile{Delay: delay, Jitter: jitter, Distribution: tt.d}
		for _, c := range []struct {
			name string
			q    float64
			want time.Duration
		}{{"p50", 0.5, tt.median}, {"p95", 0.95, tt.p95}} {
			if got := delayQuantile(p, c.q); !near(got, c.want, 200*time.Microsecond) {
				t.Errorf("fitDelay(%v, %v, %v) = %v±%v: %s %v, want %v",
					tt.d, tt.median, tt.p95, delay, jitter, c.name, got, c.want)
			}
		}
	}
}

func TestFitDelayParetoNormalSkew(t *testing.T) {
	// Paretonormal's median lies 0.24 Jitter below Delay: the fit must
	// raise Delay above the median it is given.
	delay, jitter := fitDelay(netem.ParetoNormal, 30*time.Millisecond, 60*time.Millisecond)
	if delay <= 30*time.Millisecond || jitter <= 0 {
		t.Errorf("fitDelay(paretonormal, 30ms, 60ms) = %v, %v, want delay > 30ms and jitter > 0", delay, jitter)
	}
}

// simulateLoss runs l's chain as RADIO.md 1.4 defines it for n packets
// and returns the loss rate in percent and the mean run of losses.
func simulateLoss(l netem.Loss, n int, seed uint64) (loss, burst float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	step := lossStepper(l, rng)
	lost, runs, inRun := 0, 0, false
	for range n {
		if step() {
			lost++
			if !inRun {
				runs++
			}
			inRun = true
		} else {
			inRun = false
		}
	}
	return 100 * float64(lost) / float64(n), float64(lost) / float64(max(runs, 1))
}

// lossStepper returns a function that decides one packet at a time.
func lossStepper(l netem.Loss, rng *rand.Rand) func() bool {
	pc := func(p netem.Percent) float64 { return float64(p) / 100 }
	switch l.Model {
	case netem.LossGE:
		bad := false
		return func() bool {
			// The loss test uses the state the packet started in.
			lost := (bad && rng.Float64() < pc(l.H)) || (!bad && rng.Float64() < pc(l.K))
			if bad {
				bad = rng.Float64() >= pc(l.R)
			} else {
				bad = rng.Float64() < pc(l.P)
			}
			return lost
		}
	case netem.LossState:
		state := 1
		return func() bool {
			r := rng.Float64()
			switch state {
			case 1:
				switch {
				case r < pc(l.P14):
					state = 4
				case r < pc(l.P14)+pc(l.P13):
					state = 3
				default:
					return false
				}
				return true
			case 3:
				switch {
				case r < pc(l.P32):
					state = 2
				case r < pc(l.P32)+pc(l.P31):
					state = 1
				default:
					return true
				}
				return false
			case 2:
				if r < pc(l.P23) {
					state = 3
					return true
				}
				return false
			default:
				state = 1
				return false
			}
		}
	}
	return func() bool { return rng.Float64() < pc(l.P) }
}

func TestGE(t *testing.T) {
	// 1M packets with a fixed seed; loss within 5 % of its value and the
	// mean burst within 5 % (a few thousand bursts: ~2 % standard error).
	tests := []struct{ loss, burst float64 }{{2, 3}, {0.5, 3}, {1, 10}, {2, 1}}
	for _, tt := range tests {
		l := ge(tt.loss, tt.burst)
		if got := float64(l.Rate()); math.Abs(got-tt.loss) > 1e-9 {
			t.Errorf("ge(%v, %v).Rate() = %v, want %v", tt.loss, tt.burst, got, tt.loss)
		}
		if want := 100 / tt.burst; math.Abs(float64(l.R)-want) > 1e-9 {
			t.Errorf("ge(%v, %v).R = %v, want %v (r = 1/B)", tt.loss, tt.burst, l.R, want)
		}
		loss, burst := simulateLoss(l, 1_000_000, 1)
		if math.Abs(loss-tt.loss) > 0.05*tt.loss || math.Abs(burst-tt.burst) > 0.05*tt.burst {
			t.Errorf("ge(%v, %v) simulated: loss %.3f%%, mean burst %.2f; want %v%%, %v",
				tt.loss, tt.burst, loss, burst, tt.loss, tt.burst)
		}
	}
	if got := ge(0, 3); !got.IsZero() {
		t.Errorf("ge(0, 3) = %+v, want the zero Loss", got)
	}
}

func TestLossRate(t *testing.T) {
	tests := []struct {
		name string
		l    netem.Loss
		want float64
	}{
		{"none", netem.Loss{}, 0},
		{"random", netem.Loss{P: 5, Corr: 25}, 5},
		{"gemodel tc defaults", netem.Loss{Model: netem.LossGE, P: 10}, 10},
		{"gemodel with k", netem.Loss{Model: netem.LossGE, P: 1, R: 9, H: 50, K: 1}, 0.1*50 + 0.9*1},
		{"state tc defaults", netem.Loss{Model: netem.LossState, P13: 10}, 10},
		{"state full", netem.Loss{Model: netem.LossState, P13: 5, P31: 50, P32: 25, P23: 50, P14: 1}, 100 * 0.11 / 1.16},
	}
	for _, tt := range tests {
		got := float64(tt.l.Rate())
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s.Rate() = %v, want %v", tt.name, got, tt.want)
		}
		if tt.l.IsZero() {
			continue
		}
		// The closed forms must agree with the chain itself.
		l := tt.l
		if l.Model == netem.LossState && l.P31 == 0 {
			l.P31, l.P23 = 100-l.P13, 100
		}
		if l.Model == netem.LossGE && l.R == 0 {
			l.R, l.H = 100-l.P, 100
		}
		if sim, _ := simulateLoss(l, 1_000_000, 2); math.Abs(sim-tt.want) > 0.05*tt.want {
			t.Errorf("%s.Rate() = %v, simulated %.3f", tt.name, got, sim)
		}
	}
}
