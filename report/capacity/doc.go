// Package capacity reads the limit off a staged run: a capacity planner
// ramps a fleet in stages and wants to know where latency bends, where
// throughput would peak, the largest stage that met every threshold, and
// whether the server or m2msim itself ran out first.
//
// The knee is found by Kneedle on p99 latency against load, the throughput
// curve is fitted with Gunther's Universal Scalability Law, and Analyze
// says it all in plain English. The package is pure analysis: it takes
// figures, never a run.
package capacity
