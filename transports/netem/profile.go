package netem

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Profile is one direction's impairments. Field names follow tc-netem
// options so anyone who knows tc can read a profile; ParseProfile reads
// tc's own syntax. The zero value passes everything through untouched.
type Profile struct {
	// Delay is the mean one-way delay, Jitter its spread: uniform in
	// [Delay-Jitter, Delay+Jitter) by default (tc's default: no table),
	// or a standard deviation-like scale for the table distributions.
	// Negative draws are sent at once.
	Delay, Jitter time.Duration
	// DelayCorr correlates successive delay draws (tc's third delay
	// argument). In ModeModel it is the lag-1 correlation of successive
	// delays, made by a Gaussian AR(1) copula that keeps the distribution;
	// in ModeKernel it is sch_netem's crand, which has no effect.
	DelayCorr Percent
	// Distribution shapes the jitter: Uniform (zero value), Normal,
	// Pareto or ParetoNormal, the tables iproute2 ships.
	Distribution Distribution

	// Loss drops packets (datagrams) or, on streams, delays a chunk by a
	// retransmission timeout. The zero value loses nothing.
	Loss Loss

	// Duplicate sends a second copy of a datagram; DuplicateCorr
	// correlates successive decisions. Datagrams only.
	Duplicate, DuplicateCorr Percent
	// Corrupt flips one random bit of a datagram's payload; CorruptCorr
	// correlates successive decisions. Datagrams only.
	Corrupt, CorruptCorr Percent
	// Reorder sends a datagram at once, ahead of the delayed ones, with
	// probability Reorder after every Gap-1 delayed datagrams (tc sets
	// Gap to 1 when Reorder is given without it). Needs a Delay.
	// Datagrams only.
	Reorder, ReorderCorr Percent
	Gap                  int

	// Rate serialises the link at this many bits per second (0 =
	// unlimited). Each packet's length first grows by PacketOverhead
	// bytes, then, if CellSize is set, is rounded up to whole cells of
	// CellSize+CellOverhead bytes, exactly as tc's
	// "rate RATE [PACKETOVERHEAD [CELLSIZE [CELLOVERHEAD]]]".
	Rate                                   Bitrate
	PacketOverhead, CellSize, CellOverhead int

	// Slot releases packets in bursts, as tc's "slot MIN [MAX] [packets
	// N] [bytes B]" (a crude model of grant-based MACs: LTE, NB-IoT,
	// Wi-Fi DTIM). The zero value disables it.
	Slot Slot

	// Limit bounds the packets queued in this direction (0 means tc's
	// default, 1000). Beyond it datagrams are dropped and stream writes
	// block; a stream's downlink is not limited (TCP's receive window
	// bounds it).
	Limit int

	// Mode picks the correlation arithmetic: ModeModel (zero value) or
	// ModeKernel (bit-exact sch_netem, flaws included).
	Mode Mode
}

// DefaultLimit is tc-netem's default queue limit, in packets.
const DefaultLimit = 1000

// Link is the shaping of one device's link: Up from the device to the
// server, Down from the server to the device. The round-trip time adds
// both delays, as two egress netems would.
type Link struct {
	Up, Down Profile
}

// Slot is tc-netem's slot option. A packet may leave only inside a slot;
// a slot closes after Packets packets or Bytes bytes (0 = no limit) and
// the next one opens after a delay drawn uniformly from [Min, Max).
type Slot struct {
	Min, Max       time.Duration
	Packets, Bytes int
}

// enabled reports whether the slot option is on, as the kernel decides it.
func (s Slot) enabled() bool { return s.Min != 0 || s.Max != 0 }

// LossModel names one of tc-netem's loss models.
type LossModel uint8

// The loss models. The zero value is LossRandom.
const (
	// LossRandom loses each packet with probability P, correlated by
	// Corr ("loss random P [CORR]").
	LossRandom LossModel = iota
	// LossState is the 4-state Markov model ("loss state P13 [P31 [P32
	// [P23 [P14]]]]").
	LossState
	// LossGE is the Gilbert-Elliott model ("loss gemodel P [R [1-H
	// [1-K]]]").
	LossGE
)

// Loss selects one of tc-netem's loss models and holds its parameters;
// only the fields of the chosen Model are used, the others must be zero.
// The zero value loses nothing.
//
// Where tc supplies a default for an omitted argument, the zero value of
// the field stands for that default (a zero there is never useful: it
// would make a state absorbing or lose nothing at all):
//   - LossState: P31 = 100%-P13, P23 = 100%; P32 and P14 default to 0.
//   - LossGE: R = 100%-P, H (tc's "1-h", the loss in the bad state) =
//     100%; K (tc's "1-k", the loss in the good state) defaults to 0.
type Loss struct {
	Model LossModel
	// P is the loss probability (LossRandom) or the good-to-bad
	// transition probability (LossGE).
	P Percent
	// Corr correlates successive LossRandom decisions. In ModeModel it is
	// the lag-1 correlation of a two-state Markov chain with loss P; in
	// ModeKernel it is sch_netem's crand, which collapses the loss rate
	// (loss 1% 25% loses almost nothing).
	Corr Percent
	// P13 ... P14 are the LossState transition probabilities: 1 is the
	// gap (good) state, 3 burst loss, 2 good inside a burst, 4 an
	// isolated loss.
	P13, P31, P32, P23, P14 Percent
	// R is LossGE's bad-to-good transition probability; H is tc's "1-h"
	// (loss probability in the bad state) and K tc's "1-k" (loss
	// probability in the good state).
	R, H, K Percent
}

// IsZero reports whether l loses nothing: no model parameter is set.
func (l Loss) IsZero() bool { return l == Loss{Model: l.Model} }

// withDefaults fills tc's defaults for the arguments left at zero.
func (l Loss) withDefaults() Loss {
	switch l.Model {
	case LossState:
		if l.P31 == 0 {
			l.P31 = 100 - l.P13
		}
		if l.P23 == 0 {
			l.P23 = 100
		}
	case LossGE:
		if l.R == 0 {
			l.R = 100 - l.P
		}
		if l.H == 0 {
			l.H = 100
		}
	}
	return l
}

// Distribution is the shape of the delay jitter.
type Distribution uint8

// The distributions. Uniform is the zero value and tc's default.
const (
	Uniform Distribution = iota
	Normal
	Pareto
	ParetoNormal
)

// Mode selects the correlation arithmetic.
type Mode uint8

// The modes. ModeModel is the zero value.
const (
	// ModeModel keeps each marginal distribution and correlates through
	// models that work: an AR(1) Gaussian copula for delay, two-state
	// Markov chains for loss, duplication, corruption and reordering. It
	// has no jitter cap.
	ModeModel Mode = iota
	// ModeKernel reproduces sch_netem's get_crandom/tabledist arithmetic
	// bit for bit, including its flaws: delay correlation has no effect,
	// correlated loss collapses, jitter is capped at 2^31-1 ns (~2.1 s).
	ModeKernel
)

// IsZero reports whether p changes nothing: every impairment is off.
// Limit and Mode alone do not shape.
func (p Profile) IsZero() bool {
	p.Limit, p.Mode = 0, 0
	return p == Profile{}
}

// withDefaults applies tc's defaults: the queue limit, gap 1 with
// reorder, a slot's MAX equal to its MIN, the loss models' omitted
// arguments.
func (p Profile) withDefaults() Profile {
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	if p.Reorder > 0 && p.Gap == 0 {
		p.Gap = 1
	}
	if p.Slot.Max < p.Slot.Min {
		p.Slot.Max = p.Slot.Min
	}
	p.Loss = p.Loss.withDefaults()
	return p
}

// ErrInvalid is wrapped by every validation problem.
var ErrInvalid = errors.New("invalid")

// FieldError is one validation problem: the tc option it concerns and
// what is wrong with it. It wraps ErrInvalid.
type FieldError struct {
	Field string
	Msg   string
}

// Error formats the problem as "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// problems collects FieldErrors.
type problems []error

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) percent(field string, v Percent) {
	if math.IsNaN(float64(v)) || v < 0 || v > 100 {
		ps.add(field, "must be within 0..100%%, got %v", v)
	}
}

func (ps *problems) nonNegative(field string, v int64, unit string) {
	if v < 0 {
		ps.add(field, "must not be negative, got %d%s", v, unit)
	}
}

// Validate returns every problem with p, joined (errors.Join), each a
// *FieldError naming the tc option; nil if p is usable.
func (p Profile) Validate() error {
	var ps problems
	if p.Delay < 0 {
		ps.add("delay", "must not be negative, got %v", p.Delay)
	}
	if p.Jitter < 0 {
		ps.add("jitter", "must not be negative, got %v", p.Jitter)
	}
	ps.percent("delay correlation", p.DelayCorr)
	if p.Distribution > ParetoNormal {
		ps.add("distribution", "unknown distribution %d", p.Distribution)
	}
	p.Loss.validate(&ps)
	ps.percent("duplicate", p.Duplicate)
	ps.percent("duplicate correlation", p.DuplicateCorr)
	ps.percent("corrupt", p.Corrupt)
	ps.percent("corrupt correlation", p.CorruptCorr)
	ps.percent("reorder", p.Reorder)
	ps.percent("reorder correlation", p.ReorderCorr)
	ps.nonNegative("gap", int64(p.Gap), "")
	if p.Reorder > 0 && p.Delay == 0 {
		ps.add("reorder", "needs a delay (tc: reordering not possible without specifying some delay)")
	}
	if p.Gap > 0 && p.Reorder == 0 {
		ps.add("gap", "needs a reorder probability")
	}
	p.validateRate(&ps)
	p.Slot.validate(&ps)
	ps.nonNegative("limit", int64(p.Limit), "")
	if p.Mode > ModeKernel {
		ps.add("mode", "unknown mode %d", p.Mode)
	}
	return errors.Join(ps...)
}

func (p Profile) validateRate(ps *problems) {
	switch {
	case p.Rate < 0:
		ps.add("rate", "must not be negative, got %v", p.Rate)
	case p.Rate > 0 && p.Rate < 8:
		ps.add("rate", "must be 0 (unlimited) or at least 8bit (1 byte/s), got %v", p.Rate)
	}
	ps.nonNegative("rate cell size", int64(p.CellSize), "B")
	if p.CellSize > 0 && p.CellSize+p.CellOverhead <= 0 {
		ps.add("rate cell overhead", "cell size plus overhead must be positive, got %d+%d", p.CellSize, p.CellOverhead)
	}
	if p.Rate == 0 && (p.PacketOverhead != 0 || p.CellSize != 0 || p.CellOverhead != 0) {
		ps.add("rate", "packet overhead and cells need a rate")
	}
}

func (l Loss) validate(ps *problems) {
	for _, f := range []struct {
		name string
		v    Percent
	}{
		{"loss", l.P}, {"loss correlation", l.Corr},
		{"loss p13", l.P13}, {"loss p31", l.P31}, {"loss p32", l.P32}, {"loss p23", l.P23}, {"loss p14", l.P14},
		{"loss r", l.R}, {"loss 1-h", l.H}, {"loss 1-k", l.K},
	} {
		ps.percent(f.name, f.v)
	}
	switch l.Model {
	case LossRandom:
		if l.P13 != 0 || l.P31 != 0 || l.P32 != 0 || l.P23 != 0 || l.P14 != 0 || l.R != 0 || l.H != 0 || l.K != 0 {
			ps.add("loss", "random loss takes only P and Corr")
		}
	case LossState:
		if l.P != 0 || l.Corr != 0 || l.R != 0 || l.H != 0 || l.K != 0 {
			ps.add("loss", "the state model takes only P13, P31, P32, P23 and P14")
		}
	case LossGE:
		if l.Corr != 0 || l.P13 != 0 || l.P31 != 0 || l.P32 != 0 || l.P23 != 0 || l.P14 != 0 {
			ps.add("loss", "the gemodel takes only P, R, H (1-h) and K (1-k)")
		}
	default:
		ps.add("loss", "unknown model %d", l.Model)
	}
}

func (s Slot) validate(ps *problems) {
	if s.Min < 0 || s.Max < 0 {
		ps.add("slot", "delays must not be negative, got %v %v", s.Min, s.Max)
	}
	if s.Max != 0 && s.Max < s.Min {
		ps.add("slot", "max %v is below min %v", s.Max, s.Min)
	}
	ps.nonNegative("slot packets", int64(s.Packets), "")
	ps.nonNegative("slot bytes", int64(s.Bytes), "B")
	if !s.enabled() && (s.Packets != 0 || s.Bytes != 0) {
		ps.add("slot", "packets and bytes need a min or max delay")
	}
}

// TxTime is how long p's rate takes to serialise a packet of n bytes on
// the wire (headers included), with its packet overhead and cells, as
// the shaper computes it. Zero without a rate.
func (p Profile) TxTime(n int) time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(packetTime(&p, n, p.Mode == ModeKernel))
}
