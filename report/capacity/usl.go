package capacity

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// USL is Gunther's Universal Scalability Law fitted to throughput against
// devices: X(N) = λN / (1 + σ(N−1) + κN(N−1)). Lambda is the throughput
// of one device alone, Sigma the contention (the serial share), Kappa the
// coherency cost (the crosstalk between devices). PeakDevices is
// N* = √((1−σ)/κ), the load at which throughput peaks, and PeakThroughput
// X(N*); with κ = 0 there is no peak: PeakDevices is +Inf and
// PeakThroughput the ceiling λ/σ that throughput approaches (+Inf when σ is
// 0 too). R2 is the coefficient of determination of the fit.
type USL struct {
	Lambda, Sigma, Kappa        float64
	PeakDevices, PeakThroughput float64
	R2                          float64
}

// Throughput is the fitted X(n).
func (u USL) Throughput(n float64) float64 {
	return u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1))
}

// Peaked reports whether throughput has a peak at a finite load (κ > 0).
func (u USL) Peaked() bool { return u.Kappa > 0 }

// Errors FitUSL returns, wrapped with the figures.
var (
	// ErrTooFewLoads is fewer than 3 distinct loads with a throughput: a
	// curve of three parameters needs three.
	ErrTooFewLoads = errors.New("fewer than 3 distinct loads with a throughput")
	// ErrNoThroughput is a run in which nothing completed.
	ErrNoThroughput = errors.New("no throughput above zero")
	// ErrLengths is devices and throughput of different lengths.
	ErrLengths = errors.New("devices and throughput differ in length")
)

// negligible is the share of the denominator at the largest load below
// which σ or κ cannot be told from 0, and is taken as 0.
const negligible = 1e-9

// FitUSL fits the Universal Scalability Law to throughput against devices
// by least squares. Points with a load under 1 or a negative or
// non-finite figure are left out. σ and κ are kept ≥ 0 by fitting their
// square roots, scaled so that both are of the order of their share of the
// denominator at the largest load; λ is solved in closed form for each
// (σ, κ), so Nelder–Mead (gonum.org/v1/gonum/optimize) searches two
// dimensions, started from the linearised law with λ from the most
// productive point (the first, unless the lightest loads were already
// contended) and from corners of the space.
func FitUSL(devices, throughput []float64) (USL, error) {
	if len(devices) != len(throughput) {
		return USL{}, fmt.Errorf("fit usl: %w (%d and %d)", ErrLengths, len(devices), len(throughput))
	}
	p := uslPoints(devices, throughput)
	if n := p.distinct(); n < 3 {
		return USL{}, fmt.Errorf("fit usl: %w (%d)", ErrTooFewLoads, n)
	}
	if p.xmax <= 0 {
		return USL{}, fmt.Errorf("fit usl: %w", ErrNoThroughput)
	}
	best := p.search()
	sigma, kappa := p.coefficients(best)
	u := USL{Lambda: p.lambda(sigma, kappa) * p.xmax, Sigma: sigma, Kappa: kappa}
	u.PeakDevices, u.PeakThroughput = u.peak()
	u.R2 = p.r2(u)
	return u, nil
}

// peak is N* and X(N*), or +Inf and the ceiling λ/σ without a peak.
func (u USL) peak() (n, x float64) {
	if u.Kappa <= 0 {
		if u.Sigma <= 0 {
			return math.Inf(1), math.Inf(1)
		}
		return math.Inf(1), u.Lambda / u.Sigma
	}
	n = max(1, math.Sqrt(max(0, 1-u.Sigma)/u.Kappa))
	return n, u.Throughput(n)
}

// points are the loads and throughputs a fit stands on, throughput
// divided by its largest value xmax so the search works on figures near 1.
type points struct {
	n, x   []float64
	xmax   float64
	sScale float64 // σ = p²/sScale: N−1 at the largest load
	kScale float64 // κ = q²/kScale: N(N−1) at the largest load
}

// uslPoints keeps the usable points.
func uslPoints(devices, throughput []float64) points {
	var p points
	for i := range devices {
		n, x := devices[i], throughput[i]
		if isFinite(n) && isFinite(x) && n >= 1 && x >= 0 {
			p.n, p.x = append(p.n, n), append(p.x, x)
			p.xmax = max(p.xmax, x)
		}
	}
	nmax := 1.0
	for i := range p.n {
		p.x[i] /= max(p.xmax, math.SmallestNonzeroFloat64)
		nmax = max(nmax, p.n[i])
	}
	p.sScale, p.kScale = nmax-1, nmax*(nmax-1)
	return p
}

// distinct is the number of distinct loads.
func (p points) distinct() int {
	seen := map[float64]bool{}
	for _, n := range p.n {
		seen[n] = true
	}
	return len(seen)
}

// coefficients are σ and κ at a point θ = (p, q) of the search.
func (p points) coefficients(theta []float64) (sigma, kappa float64) {
	sigma, kappa = theta[0]*theta[0]/p.sScale, theta[1]*theta[1]/p.kScale
	if sigma*p.sScale < negligible {
		sigma = 0
	}
	if kappa*p.kScale < negligible {
		kappa = 0
	}
	return sigma, kappa
}

// shape is N/(1 + σ(N−1) + κN(N−1)), the law without λ.
func shape(n, sigma, kappa float64) float64 {
	return n / (1 + sigma*(n-1) + kappa*n*(n-1))
}

// lambda is the least-squares λ (in units of xmax) for σ and κ.
func (p points) lambda(sigma, kappa float64) float64 {
	var xg, gg float64
	for i, n := range p.n {
		g := shape(n, sigma, kappa)
		xg, gg = xg+p.x[i]*g, gg+g*g
	}
	if gg == 0 {
		return 0
	}
	return xg / gg
}

// cost is the sum of squared residuals at θ, with λ at its best for θ.
func (p points) cost(theta []float64) float64 {
	sigma, kappa := theta[0]*theta[0]/p.sScale, theta[1]*theta[1]/p.kScale
	l := p.lambda(sigma, kappa)
	var ss float64
	for i, n := range p.n {
		r := p.x[i] - l*shape(n, sigma, kappa)
		ss += r * r
	}
	if !isFinite(ss) {
		return math.MaxFloat64
	}
	return ss
}

// search returns the θ of least cost over several starts.
func (p points) search() []float64 {
	starts := [][]float64{p.linearised(), {0, 0}, {1, 0}, {0, 1}, {3, 3}}
	best, bestCost := starts[0], p.cost(starts[0])
	for _, s := range starts {
		theta := p.minimize(s)
		if c := p.cost(theta); c < bestCost {
			best, bestCost = theta, c
		}
	}
	return best
}

// minimize runs Nelder–Mead from start, restarting it from where it stops
// while that still helps, since a simplex can collapse early.
func (p points) minimize(start []float64) []float64 {
	x, f := start, p.cost(start)
	for range 3 {
		size := 0.1 * max(1, math.Abs(x[0]), math.Abs(x[1]))
		res, err := optimize.Minimize(optimize.Problem{Func: p.cost}, x,
			&optimize.Settings{
				Converger:       &optimize.FunctionConverge{Relative: 1e-12, Iterations: 50},
				FuncEvaluations: 4000,
			},
			&optimize.NelderMead{SimplexSize: size})
		if err != nil || res == nil || !(res.F < f) {
			break
		}
		improved := f - res.F
		x, f = res.X, res.F
		if improved <= 1e-12*f {
			break
		}
	}
	return x
}

// linearised is the start of the search from the law rearranged as
// λN/X − 1 = σ(N−1) + κN(N−1), linear in σ and κ, with λ the largest X/N;
// negative solutions are clamped to 0.
func (p points) linearised() []float64 {
	l := 0.0
	for i, n := range p.n {
		l = max(l, p.x[i]/n)
	}
	// Normal equations of y = σa + κb, with a and b scaled to at most 1.
	var aa, ab, bb, ay, by float64
	for i, n := range p.n {
		if p.x[i] <= 0 {
			continue
		}
		y := l*n/p.x[i] - 1
		a, b := (n-1)/p.sScale, n*(n-1)/p.kScale
		aa, ab, bb, ay, by = aa+a*a, ab+a*b, bb+b*b, ay+a*y, by+b*y
	}
	det := aa*bb - ab*ab
	if !(math.Abs(det) > 1e-12) {
		return []float64{0, 0}
	}
	s, k := (ay*bb-by*ab)/det, (by*aa-ay*ab)/det
	return []float64{math.Sqrt(max(0, s)), math.Sqrt(max(0, k))}
}

// r2 is 1 − SSres/SStot of u over the points, in units of xmax. With a
// constant throughput (SStot = 0) it is 1 for an exact fit, else 0.
func (p points) r2(u USL) float64 {
	var mean float64
	for _, x := range p.x {
		mean += x
	}
	mean /= float64(len(p.x))
	l := u.Lambda / p.xmax
	var res, tot float64
	for i, n := range p.n {
		r := p.x[i] - l*shape(n, u.Sigma, u.Kappa)
		res, tot = res+r*r, tot+(p.x[i]-mean)*(p.x[i]-mean)
	}
	switch {
	case tot > 0:
		return 1 - res/tot
	case res < 1e-18:
		return 1
	}
	return 0
}
