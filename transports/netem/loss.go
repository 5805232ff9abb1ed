package netem

import "math/rand/v2"

// sch_netem's loss model states.
const (
	txInGap    = 1 // TX_IN_GAP_PERIOD, also GOOD_STATE
	txInBurst  = 2 // TX_IN_BURST_PERIOD, also BAD_STATE
	lostInGap  = 3 // LOST_IN_GAP_PERIOD
	lostInBurs = 4 // LOST_IN_BURST_PERIOD
	stateGood  = txInGap
	stateBad   = txInBurst
)

// lossGen is one direction's loss model, sch_netem's loss_event.
type lossGen struct {
	model  LossModel
	random bern
	// a1..a5 are the kernel's clgstate: p13 p31 p32 p14 p23 for the
	// state model, p r h 1-k for Gilbert-Elliott.
	a1, a2, a3, a4, a5 uint32
	state              uint8
}

func newLossGen(p Profile, aux *rand.Rand) lossGen {
	l := p.Loss.withDefaults()
	g := lossGen{model: l.Model}
	switch l.Model {
	case LossState:
		g.a1, g.a2, g.a3, g.a4, g.a5 = l.P13.prob(), l.P31.prob(), l.P32.prob(), l.P14.prob(), l.P23.prob()
		g.state = txInGap
	case LossGE:
		// tc's option is 1-h; the kernel keeps h = UINT32_MAX - (1-h).
		g.a1, g.a2, g.a3, g.a4 = l.P.prob(), l.R.prob(), ^l.H.prob(), l.K.prob()
		g.state = stateGood
	default:
		g.random = newBern(l.P, l.Corr, p.Mode, aux)
	}
	return g
}

// event reports whether the next packet is lost.
func (g *lossGen) event(r *rand.Rand) bool {
	switch g.model {
	case LossState:
		return g.fourState(r.Uint32())
	case LossGE:
		return g.gilbertElliott(r)
	}
	return g.random.event(r)
}

// fourState is loss_4state, u32 sums (and their wrap-around) included.
func (g *lossGen) fourState(rnd uint32) bool {
	switch g.state {
	case txInGap:
		switch {
		case rnd < g.a4:
			g.state = lostInGap
			return true
		case rnd < g.a1+g.a4:
			g.state = lostInBurs
			return true
		}
	case txInBurst:
		if rnd < g.a5 {
			g.state = lostInBurs
			return true
		}
	case lostInBurs:
		switch {
		case rnd < g.a3:
			g.state = txInBurst
		case rnd < g.a2+g.a3:
			g.state = txInGap
		default:
			return true
		}
	case lostInGap:
		g.state = txInGap
	}
	return false
}

// gilbertElliott is loss_gilb_ell: a transition draw, then a loss draw
// against the state the packet started in.
func (g *lossGen) gilbertElliott(r *rand.Rand) bool {
	switch g.state {
	case stateGood:
		if r.Uint32() < g.a1 {
			g.state = stateBad
		}
		return r.Uint32() < g.a4
	default:
		if r.Uint32() < g.a2 {
			g.state = stateGood
		}
		return r.Uint32() > g.a3
	}
}

// Rate returns l's long-run loss in percent: P for random loss (its
// correlation keeps the mean in model mode), π_B·H + π_G·K for
// Gilbert-Elliott, the stationary loss of the 4-state model.
func (l Loss) Rate() Percent {
	if l.IsZero() {
		return 0
	}
	switch l.Model {
	case LossGE:
		return geRate(l)
	case LossState:
		return stateRate(l)
	}
	return l.P
}

func geRate(l Loss) Percent {
	p, r, h, k := float64(l.P)/100, float64(l.R)/100, float64(l.H)/100, float64(l.K)/100
	if l.R == 0 {
		r = 1 - p
	}
	if l.H == 0 {
		h = 1
	}
	if p+r == 0 {
		return Percent(100 * k)
	}
	bad := p / (p + r)
	return Percent(100 * (bad*h + (1-bad)*k))
}

// stateRate solves the 4-state chain of RADIO.md 1.4 for the fraction of
// packets lost: from gap-good, losses start with p13 (a burst) or p14 (an
// isolated loss); a burst alternates between burst-loss (left with
// p31+p32) and burst-good (back with p23).
func stateRate(l Loss) Percent {
	p13, p31, p32, p23, p14 := float64(l.P13)/100, float64(l.P31)/100, float64(l.P32)/100, float64(l.P23)/100, float64(l.P14)/100
	if l.P31 == 0 {
		p31 = 1 - p13
	}
	if l.P23 == 0 {
		p23 = 1
	}
	// Unnormalised stationary weights relative to gap-good = 1.
	var burstLoss, burstGood float64
	if p31 > 0 {
		burstLoss = p13 / p31
		burstGood = burstLoss * p32 / p23
	}
	isolated := p14
	total := 1 + burstLoss + burstGood + isolated
	return Percent(100 * (burstLoss + isolated) / total)
}
