package netem

import (
	"math"
	"sync"
)

// The AR(1) copula correlates the latent normal z; the delays are f(z) =
// Q(Phi(z)) for the distribution's quantile Q, a non-linear map that
// weakens the correlation (much, for Pareto). By Mehler's formula the
// delays' lag-1 correlation at latent correlation r is
// sum_k c_k r^k, c_k = E[f(Z) h_k(Z)]^2 / Var f(Z), with h_k the
// normalised Hermite polynomials. latentRho inverts that series, so that
// DelayCorr is the correlation of the delays themselves.

const hermiteTerms = 40

// hermiteCoeffs returns c_1..c_K for each distribution, computed once.
var hermiteCoeffs = sync.OnceValue(func() [ParetoNormal + 1][hermiteTerms + 1]float64 {
	var out [ParetoNormal + 1][hermiteTerms + 1]float64
	for d := Uniform; d <= ParetoNormal; d++ {
		out[d] = coeffs(func(u float64) float64 {
			if t := d.table(); t != nil {
				return quantile(t, u)
			}
			return u
		})
	}
	return out
})

// coeffs integrates f(Phi(z)) h_k(z) phi(z) on a fine grid.
func coeffs(q func(u float64) float64) [hermiteTerms + 1]float64 {
	const lo, hi, n = -9.0, 9.0, 36001
	dz := (hi - lo) / (n - 1)
	var proj [hermiteTerms + 1]float64
	var mean, sq float64
	for i := range n {
		z := lo + float64(i)*dz
		w := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) * dz
		f := q(0.5 * math.Erfc(-z/math.Sqrt2))
		mean += f * w
		sq += f * f * w
		hPrev, h := 0.0, 1.0 // h_{-1}, h_0
		for k := 1; k <= hermiteTerms; k++ {
			hPrev, h = h, (z*h-math.Sqrt(float64(k-1))*hPrev)/math.Sqrt(float64(k))
			proj[k] += f * h * w
		}
	}
	var c [hermiteTerms + 1]float64
	if v := sq - mean*mean; v > 0 {
		for k := 1; k <= hermiteTerms; k++ {
			c[k] = proj[k] * proj[k] / v
		}
	}
	return c
}

// latentRho returns the latent correlation that gives delays of
// distribution d the lag-1 correlation rho (0 <= rho < 1).
func latentRho(d Distribution, rho float64) float64 {
	if rho <= 0 || d > ParetoNormal {
		return max(0, rho)
	}
	c := hermiteCoeffs()[d]
	corr := func(r float64) float64 {
		s, p := 0.0, 1.0
		for k := 1; k <= hermiteTerms; k++ {
			p *= r
			s += c[k] * p
		}
		return s
	}
	lo, hi := 0.0, 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if corr(mid) < rho {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
