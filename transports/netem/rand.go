package netem

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// Every random draw of a direction comes from two seeded sources: rnd
// stands for sch_netem's seeded prandom state (get_crandom, tabledist and
// the loss models draw from it, in the kernel's order), aux for the
// kernel's unseeded get_random_u32 (crand's initial state, corruption
// positions, slot delays). Keeping them apart keeps rnd's sequence the
// kernel's even when corruption or slots draw.

// crand is sch_netem's correlated generator state (struct crndstate).
type crand struct {
	rho, last uint32
}

// newCrand returns a crand with correlation rho and, as init_crandom
// does, a random initial last value.
func newCrand(rho uint32, aux *rand.Rand) crand {
	return crand{rho: rho, last: aux.Uint32()}
}

// next is get_crandom: with rho 0 a plain draw, otherwise
// (v*(2^32-(rho+1)) + last*(rho+1)) >> 32, computed exactly in 64 bits.
func (c *crand) next(r *rand.Rand) uint32 {
	if c.rho == 0 {
		return r.Uint32()
	}
	v := uint64(r.Uint32())
	rho := uint64(c.rho) + 1
	c.last = uint32((v*(1<<32-rho) + uint64(c.last)*rho) >> 32)
	return c.last
}

// tabledist is sch_netem's tabledist: mu plus a draw of scale sigma from
// table t (uniform in [mu-sigma, mu+sigma) when t is nil), with the
// kernel's integer arithmetic: the remainder and quotient of sigma by
// 8192 multiplied separately, rounding by +-4096, truncating division.
func tabledist(mu int64, sigma int32, c *crand, r *rand.Rand, t *[distSize]int16) int64 {
	if sigma == 0 {
		return mu
	}
	rnd := c.next(r)
	if t == nil {
		return int64(rnd%(2*uint32(sigma))) + mu - int64(sigma)
	}
	tv := int64(t[rnd%distSize])
	x := (int64(sigma) % distScale) * tv
	if x >= 0 {
		x += distScale / 2
	} else {
		x -= distScale / 2
	}
	return x/distScale + (int64(sigma)/distScale)*tv + mu
}

// delayGen draws one direction's delays.
type delayGen struct {
	mu, sigma int64 // ns; sigma capped at MaxInt32 in kernel mode
	kernel    bool
	t         *[distSize]int16 // nil for Uniform
	c         crand            // kernel mode
	ar        ar1              // model mode
}

func newDelayGen(p Profile, aux *rand.Rand) delayGen {
	g := delayGen{mu: int64(p.Delay), sigma: int64(p.Jitter), kernel: p.Mode == ModeKernel, t: p.Distribution.table()}
	if g.kernel {
		// netem_change: jitter = min(abs(jitter), INT_MAX).
		g.sigma = min(g.sigma, math.MaxInt32)
		g.c = newCrand(p.DelayCorr.prob(), aux)
	} else {
		g.ar = newAR1(latentRho(p.Distribution, float64(p.DelayCorr)/100))
	}
	return g
}

// draw returns the next delay in ns; it may be negative (send at once).
func (g *delayGen) draw(r *rand.Rand) int64 {
	if g.sigma == 0 {
		return g.mu
	}
	if g.kernel {
		return tabledist(g.mu, int32(g.sigma), &g.c, r, g.t)
	}
	u := g.ar.uniform(r)
	if g.t == nil {
		return g.mu - g.sigma + int64(2*float64(g.sigma)*u)
	}
	return g.mu + int64(math.Round(float64(g.sigma)*quantile(g.t, u)))
}

// ar1 is a Gaussian AR(1) copula: z' = rho*z + sqrt(1-rho^2)*e keeps z
// standard normal with lag-1 correlation rho, and Phi(z) is uniform, so
// the delay's marginal is the distribution's own whatever rho is. rho is
// calibrated by latentRho.
type ar1 struct {
	rho, s float64
	z      float64
	primed bool
}

func newAR1(rho float64) ar1 { return ar1{rho: rho, s: math.Sqrt(1 - rho*rho)} }

// uniform returns the next uniform variate in [0, 1].
func (a *ar1) uniform(r *rand.Rand) float64 {
	if a.rho == 0 {
		return r.Float64()
	}
	e := r.NormFloat64()
	if a.primed {
		a.z = a.rho*a.z + a.s*e
	} else {
		a.z, a.primed = e, true
	}
	return 0.5 * math.Erfc(-a.z/math.Sqrt2)
}

// bern is a correlated yes/no decision with probability p (duplicate,
// corrupt, reorder, random loss). In kernel mode it is "p >= crand()";
// in model mode with a correlation it is a two-state Markov chain whose
// stationary probability is p and whose lag-1 correlation is the one
// asked: P(yes|yes) = p+rho(1-p), P(yes|no) = p(1-rho).
type bern struct {
	p      uint32
	c      crand // kernel mode, or model mode without correlation
	markov bool
	stay   uint32 // P(yes|yes)
	enter  uint32 // P(yes|no)
	state  bool
	primed bool
}

func newBern(p, corr Percent, m Mode, aux *rand.Rand) bern {
	b := bern{p: p.prob()}
	if m == ModeKernel || corr == 0 {
		b.c = newCrand(corr.prob(), aux)
		return b
	}
	l, rho := float64(p)/100, float64(corr)/100
	b.markov = true
	b.stay = Percent(100 * (l + rho*(1-l))).prob()
	b.enter = Percent(100 * l * (1 - rho)).prob()
	return b
}

// event draws the next decision. Like the kernel it draws nothing when p
// is zero.
func (b *bern) event(r *rand.Rand) bool {
	if b.p == 0 {
		return false
	}
	if !b.markov {
		return b.p >= b.c.next(r)
	}
	thr := b.p
	if b.primed {
		thr = b.enter
		if b.state {
			thr = b.stay
		}
	}
	b.state, b.primed = thr >= r.Uint32(), true
	return b.state
}

// slotDelay is get_slot_next's uniform draw: min + ((max-min)*rnd >> 32),
// the 96-bit product of mul_u64_u32_shr.
func slotDelay(minD, maxD int64, aux *rand.Rand) int64 {
	hi, lo := bits.Mul64(uint64(maxD-minD), uint64(aux.Uint32()))
	return minD + int64(hi<<32|lo>>32)
}

// newSources returns a direction's two sources, seeded from (seed,
// device, direction, conn): PCG streams that no other device, direction
// or connection shares.
func newSources(seed uint64, device int, dir, conn uint64) (rnd, aux *rand.Rand) {
	id := mix(uint64(device)) ^ mix(dir<<32|conn)
	return rand.New(rand.NewPCG(seed, id)), rand.New(rand.NewPCG(seed, ^id))
}

// mix is SplitMix64's finaliser, spreading nearby ids over the stream
// space.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
