package netem

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("syntax error")

// Percent is a probability or correlation in percent, 0..100. It parses
// "1.5%" or, as tc does, a bare "1.5".
type Percent float64

// ParsePercent parses "1.5%" or "1.5" (percent either way). The range is
// checked by Profile.Validate, so "140%" parses.
func ParsePercent(s string) (Percent, error) {
	num := strings.TrimSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || num != strings.TrimSpace(num) {
		return 0, fmt.Errorf("percent %q: %w", s, ErrSyntax)
	}
	return Percent(v), nil
}

// String formats p as "1.5%"; ParsePercent reads it back exactly.
func (p Percent) String() string {
	return strconv.FormatFloat(float64(p), 'g', -1, 64) + "%"
}

// MarshalText implements encoding.TextMarshaler.
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePercent.
func (p *Percent) UnmarshalText(b []byte) error {
	v, err := ParsePercent(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// prob converts p to sch_netem's u32 probability, rint(p*UINT32_MAX) as
// tc does, clamped to 0..UINT32_MAX.
func (p Percent) prob() uint32 {
	v := math.RoundToEven(float64(p) / 100 * math.MaxUint32)
	switch {
	case !(v > 0):
		return 0
	case v >= math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(v)
}

// Bitrate is a link rate in bits per second.
type Bitrate int64

// rateUnits are tc's rate suffixes (iproute2 get_rate64), matched without
// regard to case as tc does, so "kbps" is kilobytes per second.
var rateUnits = []struct {
	name  string
	scale float64
}{
	{"bit", 1}, {"kibit", 1 << 10}, {"kbit", 1e3}, {"mibit", 1 << 20}, {"mbit", 1e6},
	{"gibit", 1 << 30}, {"gbit", 1e9}, {"tibit", 1 << 40}, {"tbit", 1e12},
	{"bps", 8}, {"kibps", 8 << 10}, {"kbps", 8e3}, {"mibps", 8 << 20}, {"mbps", 8e6},
	{"gibps", 8 << 30}, {"gbps", 8e9}, {"tibps", 8 << 40}, {"tbps", 8e12},
}

// ParseBitrate parses a rate in tc's units: "9600bit", "10kbit", "1mbit",
// "1.5gbit", "250kbps" (kilobytes per second; "bps" suffixes are bytes, as
// in tc), binary "kibit"/"kibps" and so on. A bare number is bits per
// second.
func ParseBitrate(s string) (Bitrate, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.' && r != 'e' && r != 'E' && r != '+' && r != '-'
	})
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], t[i:]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("rate %q: %w", s, ErrSyntax)
	}
	scale, ok := 1.0, unit == ""
	for _, u := range rateUnits {
		if strings.EqualFold(unit, u.name) {
			scale, ok = u.scale, true
			break
		}
	}
	v *= scale
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= math.MaxInt64 {
		return 0, fmt.Errorf("rate %q: %w", s, ErrSyntax)
	}
	return Bitrate(math.Round(v)), nil
}

// String formats r in the largest decimal bit unit that is exact, such as
// "10kbit"; ParseBitrate reads it back exactly.
func (r Bitrate) String() string {
	for _, u := range []struct {
		name string
		div  Bitrate
	}{{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}} {
		if r != 0 && r%u.div == 0 {
			return strconv.FormatInt(int64(r/u.div), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(r), 10) + "bit"
}

// MarshalText implements encoding.TextMarshaler.
func (r Bitrate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseBitrate.
func (r *Bitrate) UnmarshalText(b []byte) error {
	v, err := ParseBitrate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// txTime is the time to serialise n bytes at r: n*8e9/r ns. In kernel
// mode the rate is first truncated to whole bytes per second, as tc
// stores it.
func (r Bitrate) txTime(n int64, kernel bool) int64 {
	if kernel {
		return n * int64(time.Second) / max(1, int64(r)/8)
	}
	return n * 8 * int64(time.Second) / int64(r)
}

var distNames = [...]string{Uniform: "uniform", Normal: "normal", Pareto: "pareto", ParetoNormal: "paretonormal"}

// String returns tc's name for d.
func (d Distribution) String() string {
	if int(d) < len(distNames) {
		return distNames[d]
	}
	return "distribution(" + strconv.Itoa(int(d)) + ")"
}

// ParseDistribution parses "uniform", "normal", "pareto" or
// "paretonormal".
func ParseDistribution(s string) (Distribution, error) {
	for i, n := range distNames {
		if strings.EqualFold(s, n) {
			return Distribution(i), nil
		}
	}
	return 0, fmt.Errorf("distribution %q: %w: want uniform, normal, pareto or paretonormal", s, ErrSyntax)
}

// MarshalText implements encoding.TextMarshaler.
func (d Distribution) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Distribution) UnmarshalText(b []byte) error {
	v, err := ParseDistribution(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

var modeNames = [...]string{ModeModel: "model", ModeKernel: "kernel"}

// String returns "model" or "kernel".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "model" or "kernel".
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(s, n) {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("mode %q: %w: want model or kernel", s, ErrSyntax)
}

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

var lossNames = [...]string{LossRandom: "random", LossState: "state", LossGE: "gemodel"}

// String returns tc's keyword for m: "random", "state" or "gemodel".
func (m LossModel) String() string {
	if int(m) < len(lossNames) {
		return lossNames[m]
	}
	return "lossmodel(" + strconv.Itoa(int(m)) + ")"
}

// ParseLossModel parses "random", "state" or "gemodel".
func ParseLossModel(s string) (LossModel, error) {
	for i, n := range lossNames {
		if strings.EqualFold(s, n) {
			return LossModel(i), nil
		}
	}
	return 0, fmt.Errorf("loss model %q: %w: want random, state or gemodel", s, ErrSyntax)
}

// MarshalText implements encoding.TextMarshaler.
func (m LossModel) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *LossModel) UnmarshalText(b []byte) error {
	v, err := ParseLossModel(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
