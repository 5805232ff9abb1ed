package netem

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseProfile reads a profile in tc-netem's own syntax, the arguments
// after "tc qdisc add dev DEV root netem":
//
//	delay TIME [JITTER [CORRELATION]]  distribution {uniform|normal|pareto|paretonormal}
//	loss [random] PERCENT [CORRELATION]
//	loss state P13 [P31 [P32 [P23 [P14]]]]
//	loss gemodel PERCENT [R [1-H [1-K]]]
//	duplicate PERCENT [CORRELATION]   corrupt PERCENT [CORRELATION]
//	reorder PERCENT [CORRELATION]     gap DISTANCE
//	rate RATE [PACKETOVERHEAD [CELLSIZE [CELLOVERHEAD]]]
//	slot MIN_DELAY [MAX_DELAY] [packets N] [bytes B]
//	limit PACKETS
//	mode {model|kernel}
//
// "mode" is m2msim's own. Times take Go or tc units ("100ms", "1.5s",
// "100msec"; a bare number is microseconds, as in tc); percents "1.5%"
// or "1.5"; rates tc's units ("10kbit", "1mbit", "250kbps" = kilobytes).
// Optional arguments are recognised, as tc does, by starting with a digit
// (or a minus sign). The result is not validated: call Validate.
func ParseProfile(s string) (Profile, error) {
	return Profile{}.Override(s)
}

// Override reads options in ParseProfile's syntax on top of p: each
// option given replaces that option's whole group (delay with its jitter
// and correlation; loss with its model; rate with its overheads; slot),
// as restating it to tc would, and every option not given keeps p's
// value. "delay 50ms" on a profile with jitter therefore means 50 ms and
// no jitter. The result is not validated: call Validate.
func (p Profile) Override(s string) (Profile, error) {
	ps := &profileParser{args: strings.Fields(s), seen: map[string]bool{}, p: p}
	for ps.i < len(ps.args) {
		if err := ps.option(); err != nil {
			return Profile{}, fmt.Errorf("netem profile %q: %w", s, err)
		}
	}
	return ps.p, nil
}

type profileParser struct {
	args []string
	i    int
	p    Profile
	seen map[string]bool
}

func (ps *profileParser) option() error {
	kw := ps.args[ps.i]
	ps.i++
	name := kw
	switch kw {
	case "latency":
		name = "delay"
	case "drop":
		name = "loss"
	}
	if ps.seen[name] {
		return fmt.Errorf("%s: %w: given twice", name, ErrSyntax)
	}
	ps.seen[name] = true
	ps.clear(name)
	switch name {
	case "delay":
		return ps.delay()
	case "distribution":
		return ps.word(name, func(w string) (err error) { ps.p.Distribution, err = ParseDistribution(w); return })
	case "loss":
		return ps.loss()
	case "duplicate":
		return ps.percents(name, &ps.p.Duplicate, &ps.p.DuplicateCorr)
	case "corrupt":
		return ps.percents(name, &ps.p.Corrupt, &ps.p.CorruptCorr)
	case "reorder":
		return ps.percents(name, &ps.p.Reorder, &ps.p.ReorderCorr)
	case "gap":
		return ps.word(name, func(w string) (err error) { ps.p.Gap, err = strconv.Atoi(w); return })
	case "limit":
		return ps.word(name, func(w string) (err error) { ps.p.Limit, err = strconv.Atoi(w); return })
	case "rate":
		return ps.rate()
	case "slot":
		return ps.slot()
	case "mode":
		return ps.word(name, func(w string) (err error) { ps.p.Mode, err = ParseMode(w); return })
	case "ecn", "seed":
		return fmt.Errorf("%s: %w: not supported (the seed comes from the scenario)", kw, ErrSyntax)
	}
	return fmt.Errorf("%q: %w: unknown option", kw, ErrSyntax)
}

// clear resets the fields option name sets, so that restating an option
// over a base profile replaces it whole.
func (ps *profileParser) clear(name string) {
	p := &ps.p
	switch name {
	case "delay":
		p.Delay, p.Jitter, p.DelayCorr = 0, 0, 0
	case "loss":
		p.Loss = Loss{}
	case "duplicate":
		p.Duplicate, p.DuplicateCorr = 0, 0
	case "corrupt":
		p.Corrupt, p.CorruptCorr = 0, 0
	case "reorder":
		p.Reorder, p.ReorderCorr = 0, 0
	case "rate":
		p.Rate, p.PacketOverhead, p.CellSize, p.CellOverhead = 0, 0, 0, 0
	case "slot":
		p.Slot = Slot{}
	}
}

// word parses the required argument of option name with f.
func (ps *profileParser) word(name string, f func(string) error) error {
	if ps.i >= len(ps.args) {
		return fmt.Errorf("%s: %w: missing argument", name, ErrSyntax)
	}
	w := ps.args[ps.i]
	ps.i++
	if err := f(w); err != nil {
		return fmt.Errorf("%s %q: %w", name, w, errSyntax(err))
	}
	return nil
}

// optional parses the next argument with f if it looks like a number.
func (ps *profileParser) optional(name string, f func(string) error) (bool, error) {
	if ps.i >= len(ps.args) || !isNumber(ps.args[ps.i]) {
		return false, nil
	}
	return true, ps.word(name, f)
}

func isNumber(s string) bool {
	return s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == '-' || s[0] == '.')
}

// errSyntax makes sure a strconv or time error also wraps ErrSyntax.
func errSyntax(err error) error {
	if strings.Contains(err.Error(), ErrSyntax.Error()) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrSyntax, err)
}

func (ps *profileParser) delay() error {
	if err := ps.word("delay", ps.setDuration(&ps.p.Delay)); err != nil {
		return err
	}
	if ok, err := ps.optional("jitter", ps.setDuration(&ps.p.Jitter)); !ok || err != nil {
		return err
	}
	_, err := ps.optional("delay correlation", ps.setPercent(&ps.p.DelayCorr))
	return err
}

func (ps *profileParser) setDuration(d *time.Duration) func(string) error {
	return func(w string) (err error) { *d, err = parseTime(w); return }
}

func (ps *profileParser) setPercent(p *Percent) func(string) error {
	return func(w string) (err error) { *p, err = ParsePercent(w); return }
}

func (ps *profileParser) setInt(v *int) func(string) error {
	return func(w string) (err error) { *v, err = strconv.Atoi(w); return }
}

// percents parses "P [CORR]".
func (ps *profileParser) percents(name string, p, corr *Percent) error {
	if err := ps.word(name, ps.setPercent(p)); err != nil {
		return err
	}
	_, err := ps.optional(name+" correlation", ps.setPercent(corr))
	return err
}

// optionals parses up to len(fs) optional arguments in order.
func (ps *profileParser) optionals(name string, fs ...func(string) error) error {
	for _, f := range fs {
		if ok, err := ps.optional(name, f); !ok || err != nil {
			return err
		}
	}
	return nil
}

func (ps *profileParser) loss() error {
	l := &ps.p.Loss
	if ps.i < len(ps.args) && !isNumber(ps.args[ps.i]) {
		if err := ps.word("loss", func(w string) (err error) { l.Model, err = ParseLossModel(w); return }); err != nil {
			return err
		}
	}
	switch l.Model {
	case LossState:
		if err := ps.word("loss p13", ps.setPercent(&l.P13)); err != nil {
			return err
		}
		return ps.optionals("loss state", ps.setPercent(&l.P31), ps.setPercent(&l.P32), ps.setPercent(&l.P23), ps.setPercent(&l.P14))
	case LossGE:
		if err := ps.word("loss gemodel p", ps.setPercent(&l.P)); err != nil {
			return err
		}
		return ps.optionals("loss gemodel", ps.setPercent(&l.R), ps.setPercent(&l.H), ps.setPercent(&l.K))
	}
	return ps.percents("loss", &l.P, &l.Corr)
}

func (ps *profileParser) rate() error {
	if err := ps.word("rate", func(w string) (err error) { ps.p.Rate, err = ParseBitrate(w); return }); err != nil {
		return err
	}
	return ps.optionals("rate", ps.setInt(&ps.p.PacketOverhead), ps.setInt(&ps.p.CellSize), ps.setInt(&ps.p.CellOverhead))
}

func (ps *profileParser) slot() error {
	s := &ps.p.Slot
	if ps.i < len(ps.args) && ps.args[ps.i] == "distribution" {
		return fmt.Errorf("slot distribution: %w: not supported, use slot MIN MAX", ErrSyntax)
	}
	if err := ps.word("slot", ps.setDuration(&s.Min)); err != nil {
		return err
	}
	if ok, err := ps.optional("slot max", ps.setDuration(&s.Max)); err != nil {
		return err
	} else if !ok {
		s.Max = s.Min
	}
	for _, o := range []struct {
		kw string
		f  func(string) error
	}{{"packets", ps.setInt(&s.Packets)}, {"bytes", func(w string) (err error) { s.Bytes, err = parseSize(w); return }}} {
		if ps.i < len(ps.args) && ps.args[ps.i] == o.kw {
			ps.i++
			if err := ps.word("slot "+o.kw, o.f); err != nil {
				return err
			}
		}
	}
	return nil
}

// timeUnits are tc's time suffixes beyond Go's.
var timeUnits = []struct {
	name string
	unit time.Duration
}{
	{"secs", time.Second}, {"sec", time.Second}, {"msecs", time.Millisecond}, {"msec", time.Millisecond},
	{"usecs", time.Microsecond}, {"usec", time.Microsecond}, {"nsecs", time.Nanosecond}, {"nsec", time.Nanosecond},
}

// parseTime reads a Go duration, a tc time ("100msec") or a bare number
// of microseconds (tc's default unit).
func parseTime(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	num, unit := s, time.Microsecond
	for _, u := range timeUnits {
		if n, ok := strings.CutSuffix(s, u.name); ok {
			num, unit = n, u.unit
			break
		}
	}
	d, err := time.ParseDuration(num + unitName(unit))
	if num == "" || strings.ContainsAny(num, "eE") || err != nil {
		return 0, fmt.Errorf("%w: want a time such as 100ms, 1.5s or 100msec, got %q", ErrSyntax, s)
	}
	return d, nil
}

func unitName(u time.Duration) string {
	switch u {
	case time.Second:
		return "s"
	case time.Millisecond:
		return "ms"
	case time.Microsecond:
		return "us"
	}
	return "ns"
}

// parseSize reads a byte count: a bare number or one with tc's b, k/kb,
// m/mb or g/gb suffix (binary multiples, as tc's get_size).
func parseSize(s string) (int, error) {
	num, mult := s, 1
	for _, u := range []struct {
		name string
		mult int
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if n, ok := strings.CutSuffix(strings.ToLower(s), u.name); ok {
			num, mult = n, u.mult
			break
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil || v > (1<<31-1)/mult || v < -(1<<31)/mult {
		return 0, fmt.Errorf("size %q: %w", s, ErrSyntax)
	}
	return v * mult, nil
}

// String formats p in ParseProfile's syntax, options in tc's order and
// only those set; ParseProfile reads it back to an equal Profile. The
// zero Profile formats as "".
func (p Profile) String() string {
	var b strings.Builder
	add := func(words ...string) {
		for _, w := range words {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
	}
	if p.Delay != 0 || p.Jitter != 0 || p.DelayCorr != 0 {
		add("delay", p.Delay.String())
		add(trimmed([]string{p.Jitter.String(), p.DelayCorr.String()}, []bool{p.Jitter != 0, p.DelayCorr != 0})...)
	}
	if p.Distribution != Uniform {
		add("distribution", p.Distribution.String())
	}
	p.Loss.format(add)
	for _, o := range []struct {
		kw      string
		v, corr Percent
	}{{"duplicate", p.Duplicate, p.DuplicateCorr}, {"corrupt", p.Corrupt, p.CorruptCorr}, {"reorder", p.Reorder, p.ReorderCorr}} {
		if o.v != 0 || o.corr != 0 {
			add(o.kw, o.v.String())
			add(trimmed([]string{o.corr.String()}, []bool{o.corr != 0})...)
		}
	}
	if p.Gap != 0 {
		add("gap", strconv.Itoa(p.Gap))
	}
	if p.Rate != 0 || p.PacketOverhead != 0 || p.CellSize != 0 || p.CellOverhead != 0 {
		add("rate", p.Rate.String())
		add(trimmed([]string{strconv.Itoa(p.PacketOverhead), strconv.Itoa(p.CellSize), strconv.Itoa(p.CellOverhead)},
			[]bool{p.PacketOverhead != 0, p.CellSize != 0, p.CellOverhead != 0})...)
	}
	p.Slot.format(add)
	if p.Limit != 0 {
		add("limit", strconv.Itoa(p.Limit))
	}
	if p.Mode != ModeModel {
		add("mode", p.Mode.String())
	}
	return b.String()
}

// trimmed returns the positional words up to the last one set.
func trimmed(words []string, set []bool) []string {
	n := 0
	for i, s := range set {
		if s {
			n = i + 1
		}
	}
	return words[:n]
}

func (l Loss) format(add func(...string)) {
	if l.IsZero() && l.Model == LossRandom {
		return
	}
	switch l.Model {
	case LossState:
		add("loss", "state", l.P13.String())
		add(trimmed([]string{l.P31.String(), l.P32.String(), l.P23.String(), l.P14.String()},
			[]bool{l.P31 != 0, l.P32 != 0, l.P23 != 0, l.P14 != 0})...)
	case LossGE:
		add("loss", "gemodel", l.P.String())
		add(trimmed([]string{l.R.String(), l.H.String(), l.K.String()}, []bool{l.R != 0, l.H != 0, l.K != 0})...)
	default:
		add("loss", "random", l.P.String())
		add(trimmed([]string{l.Corr.String()}, []bool{l.Corr != 0})...)
	}
	// Fields of another model cannot be written in tc's syntax; Validate
	// rejects them.
}

func (s Slot) format(add func(...string)) {
	if s == (Slot{}) {
		return
	}
	add("slot", s.Min.String(), s.Max.String())
	if s.Packets != 0 {
		add("packets", strconv.Itoa(s.Packets))
	}
	if s.Bytes != 0 {
		add("bytes", strconv.Itoa(s.Bytes))
	}
}
