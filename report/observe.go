package report

import (
	"time"

	"github.com/m2msim/m2msim/sim"
)

// Observation is a look at the fleet and at m2msim itself, taken by the
// caller about once an interval: the engine's census and the process's
// own load. The collector keeps the last one of each interval.
type Observation struct {
	// At is when it was taken, from the start of the run.
	At time.Duration
	// Census counts devices by state, per group in Info.Groups order.
	Census []sim.Census
	// CPU is the process's CPU time so far (user and system).
	CPU time.Duration
	// OpenFiles is how many files the process has open, against
	// OpenFilesLimit (its soft limit); 0 when unknown.
	OpenFiles, OpenFilesLimit int64
	// Cores is how many cores the process may use; 0 when unknown.
	Cores int
	// Procs is how many of them it ran on when observed (GOMAXPROCS,
	// which m2msim sizes to its load); 0 when unknown.
	Procs int
}

// observation is what an interval keeps of its last Observation.
type observation struct {
	set          bool
	at           time.Duration
	census       sim.Census
	groups       []sim.Census
	cpu          time.Duration
	cpuPct       float64 // over the time since the previous observation
	files, limit int64
	cores        int
	procs        int
}

// Observe records o in the interval it closes: an observation taken at
// about the end of an interval (a ticker's tick) belongs to that
// interval. Observations must come in time order.
func (c *Collector) Observe(o Observation) {
	ob := observation{set: true, at: o.At, groups: append([]sim.Census(nil), o.Census...),
		cpu: o.CPU, files: o.OpenFiles, limit: o.OpenFilesLimit, cores: o.Cores, procs: o.Procs}
	for _, g := range o.Census {
		ob.census.Add(g)
	}
	b := c.bucketOf(o.At - c.iv/2)
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	if p := c.lastObs; p.set && o.At > p.at {
		ob.cpuPct = round3(100 * float64(o.CPU-p.cpu) / float64(o.At-p.at))
	}
	if b >= len(c.obs) {
		c.obs = append(c.obs, make([]observation, b+1-len(c.obs))...)
	}
	c.obs[b], c.lastObs = ob, ob
}

// observations returns a copy of the observations by interval.
func (c *Collector) observations() ([]observation, observation) {
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	return append([]observation(nil), c.obs...), c.lastObs
}
