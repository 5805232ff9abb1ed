package capacity

import (
	"math"
	"strconv"
	"strings"
)

// count writes an integer with thousands separators: 10,000.
func count[T ~int | ~int64](n T) string {
	return commas(strconv.FormatInt(int64(n), 10))
}

// commas puts thousands separators into the integer part of a number
// written in decimal.
func commas(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac != "" {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// plural is "1 load" or "2 loads".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

// join lists words as "a", "a and b" or "a, b and c".
func join(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// fmtMS writes a latency in ms to 3 significant figures in µs, ms or s:
// 850 µs, 88 ms, 1.84 s; "beyond reach" for +Inf.
func fmtMS(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "unknown"
	case math.IsInf(ms, 1):
		return "beyond reach"
	}
	r := roundSig(ms, 3)
	switch a := math.Abs(r); {
	case a < 1:
		return sigFigs(r*1000, 3) + " µs"
	case a < 1000:
		return sigFigs(r, 3) + " ms"
	}
	return sigFigs(r/1000, 3) + " s"
}

// fmtPct writes a percentage to at most 3 significant figures: "3 %",
// "0.25 %", "12.3 %".
func fmtPct(p float64) string { return sigFigs(p, 3) + " %" }

// fmtQuantity writes a rate or a count to 3 significant figures with
// thousands separators: 0.5, 145, 8,290, 1.2e+20 beyond 10¹⁵.
func fmtQuantity(v float64) string {
	if math.Abs(v) >= 1e15 || !isFinite(v) {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return commas(sigFigs(v, 3))
}

// fmtCoef writes a USL coefficient to 3 significant figures, in
// exponent form under 0.001: 0.05, 3.05e-06.
func fmtCoef(v float64) string {
	if v != 0 && math.Abs(v) < 0.001 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return sigFigs(v, 3)
}

// roundSig rounds v to n significant figures.
func roundSig(v float64, n int) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'e', n-1, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// sigFigs writes v with at most n significant figures and no trailing
// zeros.
func sigFigs(v float64, n int) string {
	if !isFinite(v) {
		return strconv.FormatFloat(v, 'g', n, 64)
	}
	v = roundSig(v, n)
	decimals := 0
	if a := math.Abs(v); a > 0 {
		decimals = max(0, n-1-int(math.Floor(math.Log10(a))))
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
