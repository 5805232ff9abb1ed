// Package report turns the engine's measurements into results.
//
// A Collector receives sim.Events from many goroutines and keeps HDR
// histograms (never raw samples), counters and per-second series. At the
// end of a run it produces a Result, which is written as result.json
// (schema m2msim.result/v2) and read back to re-render reports later,
// and as a terminal summary. Thresholds such as "latency.e2e.p99 < 250ms"
// are evaluated on the Result, so they can be re-checked from a file.
package report
