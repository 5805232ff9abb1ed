package netem

import (
	"math"
	"sync"
)

// Distribution tables, as iproute2 builds normal.dist, pareto.dist and
// paretonormal.dist (netem/*.c, NIST-PD): 4096 s16 entries, each the
// inverse CDF at k/4096 scaled by distScale. They are generated here with
// iproute2's own algorithms, which Go reproduces entry for entry (a test
// compares them with the tables iproute2 installs); the closed form rint(8192*PhiInv(k/4096)) differs from
// the shipped normal table in about two entries of three.
const (
	distSize  = 4096
	distScale = 8192 // NETEM_DIST_SCALE
)

// tables holds the generated tables, indexed by Distribution.
var tables = sync.OnceValue(func() [ParetoNormal + 1]*[distSize]int16 {
	grid := normalGrid()
	var normal, pareto, paretoNormal [distSize]int16
	for k := range distSize {
		nv := int(math.RoundToEven(grid[4*k] * distScale))
		pv := paretoValue(65536 - 16*k)
		normal[k] = clampS16(nv)
		pareto[k] = clampS16(pv)
		// C's integer division truncates toward zero, as Go's does.
		paretoNormal[k] = clampS16((nv + 3*pv) / 4)
	}
	return [ParetoNormal + 1]*[distSize]int16{Normal: &normal, Pareto: &pareto, ParetoNormal: &paretoNormal}
})

// normalGrid is iproute2's normal.c: walk x over [-10, 10.05) in steps of
// 0.00005, accumulating the step in floating point as C does, and keep the
// last x whose rounded 16384*Phi(x) lands on each index.
func normalGrid() *[16385]float64 {
	var t [16385]float64
	for x := -10.0; x < 10.05; x += .00005 {
		i := int(math.RoundToEven(16384 * (.5 + .5*math.Erf(x/math.Sqrt(2.0)))))
		t[i] = x
	}
	return &t
}

// paretoValue is iproute2's Pareto (alpha 3) entry for i in 65536..16.
func paretoValue(i int) int {
	d := float64(i) / 65536
	d = 1.0 / math.Pow(d, 1.0/3.0)
	d -= 1.5
	d *= (4.0 / 3.0) * distScale
	if d > math.MaxInt16 {
		d = math.MaxInt16
	}
	return int(math.RoundToEven(d))
}

func clampS16(v int) int16 {
	return int16(max(math.MinInt16, min(math.MaxInt16, v)))
}

// table returns d's table, nil for Uniform.
func (d Distribution) table() *[distSize]int16 {
	if d == Uniform || d > ParetoNormal {
		return nil
	}
	return tables()[d]
}

// Quantile returns d's inverse distribution function at u in [0, 1), in
// units of Jitter around Delay: netem draws Delay + Quantile(u)*Jitter.
// Uniform is tc's [Delay-Jitter, Delay+Jitter).
func (d Distribution) Quantile(u float64) float64 {
	if t := d.table(); t != nil {
		return quantile(t, u)
	}
	return 2*u - 1
}

// quantile interpolates t linearly at u in [0, 1), in units of sigma.
// ModeModel draws through it so that its marginal matches the kernel's
// table while u may come from a correlated copula.
func quantile(t *[distSize]int16, u float64) float64 {
	x := u * distSize
	i := min(int(x), distSize-1)
	lo := float64(t[i])
	hi := lo
	if i+1 < distSize {
		hi = float64(t[i+1])
	}
	return (lo + (x-float64(i))*(hi-lo)) / distScale
}
