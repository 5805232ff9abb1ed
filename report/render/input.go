package render

import "github.com/m2msim/m2msim/report"

// Input is everything a report shows.
type Input struct {
	Result *report.Result
	// Points are the run's timeline, one per interval, in time order.
	Points []report.Point
	// Capacity is nil for a run without stages.
	Capacity *Capacity
	// Command is the command line that repeats the run, seed included.
	Command string
}

// Capacity is the capacity section's content, computed elsewhere
// (package report/capacity); render only draws it.
type Capacity struct {
	// Metric names the latency the knee was found on, such as "e2e".
	Metric string
	// Sentences are the findings, headline first.
	Sentences []string
	// Rows hold one stage each, in load order.
	Rows []CapacityRow
	// KneeIndex and LargestPassing index Rows; -1 for none.
	KneeIndex      int
	LargestPassing int
	// USL is nil without a fit.
	USL *USLFit
	// Limiter says who ran out first: "server", "generator" or "none";
	// LimiterReason says why.
	Limiter       string
	LimiterReason string
}

// CapacityRow is one stage's load and what the server made of it.
// P50MS and P99MS are +Inf when beyond reach: their rank falls among the
// flows that never finished.
type CapacityRow struct {
	Stage            string
	Devices          int
	OfferedPerSec    float64
	ThroughputPerSec float64
	P50MS, P99MS     float64
	ConnectFailPct   float64
	ErrorPct         float64
	LossPct          float64
	Passed           bool
}

// USLFit is a Universal Scalability Law fit of throughput against
// devices: X(N) = Lambda*N / (1 + Sigma*(N-1) + Kappa*N*(N-1)). Curve
// evaluates the fitted throughput at a number of devices.
type USLFit struct {
	Lambda, Sigma, Kappa float64
	PeakDevices          float64
	PeakThroughput       float64
	R2                   float64
	Curve                func(devices float64) float64
}
