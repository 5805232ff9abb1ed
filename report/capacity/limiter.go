package capacity

import (
	"fmt"
	"math"
	"strings"
)

// Limiter says who ran out first: Who is LimiterGenerator, LimiterServer or
// LimiterNone, and Reason says why, with the figures, so that a limit of
// m2msim's own is never read as the server's.
//
// The rule looks at the stages up to and including the first load past the
// knee, where the climb in latency shows (every stage when there is no
// knee). m2msim, the generator, ran out first when in any of them:
//   - its schedule lag p99 is over 10 ms, or at least 5 ms and at least
//     half the stage's p99 (latency counts from the intended send time, so
//     such lateness is a large part of what was measured);
//   - its backend lag p99 is over 100 ms (the backend fell behind, so
//     end-to-end latency and loss may be its own);
//   - its CPU is over 90 % of its cores (CPUPct > 90 × Cores), when the
//     cores are known;
//   - its open files are over 90 % of their limit, when the limit is known.
//
// Otherwise the server ran out first when latency has a knee or a stage
// misses a threshold; otherwise neither did, within the loads tried.
//
// The stage past the knee is included because that is where the climb is
// measured: a generator that saturates there may have made the climb.
type Limiter struct {
	Who    string
	Reason string
}

// Who ran out first.
const (
	LimiterGenerator = "generator"
	LimiterServer    = "server"
	LimiterNone      = "none"
)

// Bounds of the limiter rule (see Limiter).
const (
	lagBoundMS        = 10.0
	lagFloorMS        = 5.0
	lagShare          = 0.5
	backendLagBoundMS = 100.0
	cpuShare          = 0.9
	filesShare        = 0.9
)

// judgeLimiter applies the rule to the stages in loads (in order of load).
func judgeLimiter(stages []Stage, loads []int, f kneeFinding) Limiter {
	window := loads
	if f.at >= 0 {
		window = upTo(stages, loads, f.curve[f.at+1].devices)
	}
	for _, i := range window {
		if b := generatorBreaches(stages[i]); len(b) > 0 {
			return Limiter{Who: LimiterGenerator, Reason: fmt.Sprintf(
				"m2msim ran out first, not the server: at %s devices %s; figures from that load on measure m2msim as much as the server",
				count(stages[i].Devices), join(b))}
		}
	}
	last := stages[window[len(window)-1]].Devices
	health := generatorHealth(stages, window)
	if f.at >= 0 {
		return Limiter{Who: LimiterServer, Reason: fmt.Sprintf("the server ran out first: its p99 climbs after %s devices, while m2msim kept up through %s (%s)",
			count(f.knee.Devices), count(last), health)}
	}
	for _, i := range window {
		if !stages[i].Passed {
			return Limiter{Who: LimiterServer, Reason: fmt.Sprintf("the server ran out first: the stage at %s devices misses a threshold, while m2msim kept up through %s (%s)",
				count(stages[i].Devices), count(last), health)}
		}
	}
	return Limiter{Who: LimiterNone, Reason: fmt.Sprintf("neither ran out: p99 has no knee and every stage meets its thresholds up to %s devices, and m2msim kept up (%s)",
		count(last), health)}
}

// upTo is the prefix of loads with at most n devices.
func upTo(stages []Stage, loads []int, n int) []int {
	k := 0
	for k < len(loads) && stages[loads[k]].Devices <= n {
		k++
	}
	return loads[:k]
}

// generatorBreaches lists how m2msim ran out in s, in words; none when it
// kept up.
func generatorBreaches(s Stage) []string {
	var b []string
	lag := s.ScheduleLagP99MS
	switch {
	case lag > lagBoundMS:
		b = append(b, fmt.Sprintf("its schedule ran %s late at p99 (bound %s)", fmtMS(lag), fmtMS(lagBoundMS)))
	case lag >= lagFloorMS && lag >= lagShare*s.P99MS:
		b = append(b, fmt.Sprintf("its schedule ran %s late at p99, over half the stage's p99 of %s", fmtMS(lag), fmtMS(s.P99MS)))
	}
	if s.BackendLagP99MS > backendLagBoundMS {
		b = append(b, fmt.Sprintf("its backend read %s late at p99 (bound %s)", fmtMS(s.BackendLagP99MS), fmtMS(backendLagBoundMS)))
	}
	if s.Cores > 0 && s.CPUPct > 100*cpuShare*float64(s.Cores) {
		b = append(b, fmt.Sprintf("its CPU averaged %s of one core, %s of its %s (bound %s)",
			fmtPct(s.CPUPct), fmtPct(s.CPUPct/float64(s.Cores)), cores(s.Cores), fmtPct(100*cpuShare)))
	}
	if s.OpenFilesLimit > 0 && float64(s.OpenFiles) > filesShare*float64(s.OpenFilesLimit) {
		b = append(b, fmt.Sprintf("it held %s of %s open files, %s of its limit (bound %s)",
			count(s.OpenFiles), count(s.OpenFilesLimit), fmtPct(100*float64(s.OpenFiles)/float64(s.OpenFilesLimit)), fmtPct(100*filesShare)))
	}
	return b
}

// generatorHealth sums up m2msim's own figures over the stages in window:
// the worst of each, and which were not measured.
func generatorHealth(stages []Stage, window []int) string {
	var lag, backend, cpu, files float64
	cpuKnown, filesKnown := false, false
	for _, i := range window {
		s := stages[i]
		lag, backend = worse(lag, s.ScheduleLagP99MS), worse(backend, s.BackendLagP99MS)
		if s.Cores > 0 {
			cpu, cpuKnown = worse(cpu, s.CPUPct/float64(s.Cores)), true
		}
		if s.OpenFilesLimit > 0 {
			files, filesKnown = worse(files, 100*float64(s.OpenFiles)/float64(s.OpenFilesLimit)), true
		}
	}
	h := []string{fmt.Sprintf("schedule lag p99 at most %s", fmtMS(lag))}
	if backend > 0 {
		h = append(h, fmt.Sprintf("backend lag p99 at most %s", fmtMS(backend)))
	}
	var unknown []string
	if cpuKnown {
		h = append(h, fmt.Sprintf("CPU at most %s of its cores", fmtPct(cpu)))
	} else {
		unknown = append(unknown, "CPU")
	}
	if filesKnown {
		h = append(h, fmt.Sprintf("open files at most %s of the limit", fmtPct(files)))
	} else {
		unknown = append(unknown, "open files")
	}
	if len(unknown) > 0 {
		h = append(h, join(unknown)+" not measured")
	}
	return strings.Join(h, ", ")
}

// worse is the larger of a and v, ignoring a v that is NaN.
func worse(a, v float64) float64 {
	if math.IsNaN(v) || v <= a {
		return a
	}
	return v
}

// cores is "1 core" or "8 cores".
func cores(n int) string {
	if n == 1 {
		return "1 core"
	}
	return count(n) + " cores"
}
