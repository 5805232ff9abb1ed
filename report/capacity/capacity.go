package capacity

import (
	"cmp"
	"slices"
)

// Stage is one step of a staged run as measured.
type Stage struct {
	Name             string
	Devices          int     // devices active in the stage: the load
	OfferedPerSec    float64 // messages/s the schedule offered
	ThroughputPerSec float64 // messages/s completed (acknowledged or received)
	// P50MS and P99MS are the stage's latency percentiles in ms, of the
	// metric Analyze is told; +Inf when loss puts the percentile beyond
	// reach.
	P50MS, P99MS float64
	// ConnectFailPct, ErrorPct and LossPct are percentages, 0–100, of
	// connect attempts, operations and timed messages.
	ConnectFailPct, ErrorPct, LossPct float64
	Passed                            bool // every threshold met within this stage

	// The generator's own figures over the stage.
	ScheduleLagP99MS float64 // how late m2msim's schedule ran
	BackendLagP99MS  float64 // how late m2msim's backend read what reached this host
	CPUPct           float64 // m2msim's CPU, percent of one core, mean over the stage
	Cores            int     // cores available to m2msim; 0 when unknown
	OpenFiles        int64   // files m2msim held open at most
	OpenFilesLimit   int64   // its limit on open files; 0 when unknown
}

// Knee is where p99 latency starts climbing. Index is into the stages
// given to Analyze, Devices that stage's load. Method says how it was
// sought: MethodKneedle, MethodFlat when p99 varies too little to bend,
// MethodFewLoads with fewer than 3 loads, MethodBeyond when p99 is beyond
// reach at every load, or MethodNoLatency when no stage has a p99.
type Knee struct {
	Found   bool
	Index   int
	Devices int
	Method  string
}

// Knee methods.
const (
	MethodKneedle   = "kneedle"
	MethodFlat      = "flat"
	MethodFewLoads  = "too few loads"
	MethodBeyond    = "beyond reach"
	MethodNoLatency = "no latency"
)

// Analysis is what a staged run says about capacity.
type Analysis struct {
	// Metric is the latency the knee is found on, such as "e2e" or "ack".
	Metric string
	Knee   Knee
	// USL is the throughput model, nil when it cannot be fitted (fewer
	// than 3 distinct loads, no throughput); Sentences say why.
	USL *USL
	// LargestPassing is the index of the largest stage meeting every
	// threshold; -1 when none does.
	LargestPassing int
	Limiter        Limiter
	// Sentences are the findings in plain English: the headline, who ran
	// out first, the throughput model and, when completions fell short of
	// the offered load, where.
	Sentences []string
}

// Analyze reads a staged run. Stages may come in any order and are taken
// in order of load; every index in the result is into stages as given.
// Stages without devices are left out; a NaN or negative p99 leaves a
// stage off the latency curve, a NaN or negative throughput off the
// throughput model; when several stages share a load, the one with the
// worst p99 stands for it on the latency curve. metric names the latency
// the stages' percentiles are of, for the sentences.
func Analyze(stages []Stage, metric string) Analysis {
	a := Analysis{Metric: metric, Knee: Knee{Index: -1}, LargestPassing: largestPassing(stages)}
	loads := byLoad(stages)
	if len(loads) == 0 {
		a.Knee.Method = MethodNoLatency
		a.Limiter = Limiter{Who: LimiterNone, Reason: "nothing to judge: no stage has devices"}
		a.Sentences = []string{"no capacity findings: no stage has devices."}
		return a
	}
	c := latencyCurve(stages, loads)
	k := findKnee(c)
	a.Knee = k.knee
	a.Limiter = judgeLimiter(stages, loads, k)
	a.Sentences = []string{headline(stages, a, k), a.Limiter.Reason + "."}
	u, err := fitStages(stages, loads)
	if err == nil {
		a.USL = &u
	}
	a.Sentences = append(a.Sentences, uslSentence(u, err, stages[loads[len(loads)-1]].Devices))
	if s := shortfallSentence(stages, loads); s != "" {
		a.Sentences = append(a.Sentences, s)
	}
	return a
}

// byLoad is the indices of the stages with devices, in order of load (a
// stable sort).
func byLoad(stages []Stage) []int {
	var loads []int
	for i, s := range stages {
		if s.Devices > 0 {
			loads = append(loads, i)
		}
	}
	slices.SortStableFunc(loads, func(a, b int) int { return cmp.Compare(stages[a].Devices, stages[b].Devices) })
	return loads
}

// largestPassing is the index of the stage with the most devices among
// those that passed, the first of equals; -1 when none passed.
func largestPassing(stages []Stage) int {
	best := -1
	for i, s := range stages {
		if s.Passed && s.Devices > 0 && (best < 0 || s.Devices > stages[best].Devices) {
			best = i
		}
	}
	return best
}

// fitStages fits the Universal Scalability Law to the stages' throughput.
func fitStages(stages []Stage, loads []int) (USL, error) {
	n := make([]float64, len(loads))
	x := make([]float64, len(loads))
	for k, i := range loads {
		n[k], x[k] = float64(stages[i].Devices), stages[i].ThroughputPerSec
	}
	return FitUSL(n, x)
}
