package capacity_test

import (
	"math"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/report/capacity"
)

// stagedRun is a ramp of five stages at 1 msg/s per device against a
// broker whose e2e p99 climbs after 7,500 devices, with m2msim healthy on
// 8 cores.
func stagedRun() []capacity.Stage {
	stage := func(name string, devices int, done, p50, p99 float64, passed bool, lag, cpu float64) capacity.Stage {
		return capacity.Stage{Name: name, Devices: devices, OfferedPerSec: float64(devices), ThroughputPerSec: done,
			P50MS: p50, P99MS: p99, Passed: passed, ScheduleLagP99MS: lag, CPUPct: cpu, Cores: 8,
			OpenFiles: int64(devices) + 100, OpenFilesLimit: 65536}
	}
	run := []capacity.Stage{
		stage("ramp-1", 1000, 1000, 12, 42, true, 0.4, 60),
		stage("ramp-2", 2500, 2498, 13, 45, true, 0.5, 120),
		stage("ramp-3", 5000, 4990, 15, 51, true, 0.7, 210),
		stage("ramp-4", 7500, 7350, 22, 88, true, 0.9, 300),
		stage("ramp-5", 10000, 8100, 240, 1840, false, 1.2, 380),
	}
	run[4].ConnectFailPct = 3
	return run
}

func TestAnalyzeStagedRun(t *testing.T) {
	a := capacity.Analyze(stagedRun(), "e2e")
	checkAnalysis(t, stagedRun(), a)
	want := []string{
		"e2e p99 stays at or below 88 ms up to 7,500 devices; at 10,000 it is 1.84 s and 3 % of connects fail; largest stage meeting every threshold: 7,500.",
		"the server ran out first: its p99 climbs after 7,500 devices, while m2msim kept up through 10,000 " +
			"(schedule lag p99 at most 1.2 ms, CPU at most 47.5 % of its cores, open files at most 15.4 % of the limit).",
	}
	if len(a.Sentences) < 4 || a.Sentences[0] != want[0] || a.Sentences[1] != want[1] {
		t.Fatalf("Analyze(staged run).Sentences = %q, want to start %q", a.Sentences, want)
	}
	if k := a.Knee; !k.Found || k.Index != 3 || k.Devices != 7500 || k.Method != capacity.MethodKneedle {
		t.Errorf("Analyze(staged run).Knee = %+v, want index 3 at 7500 by kneedle", k)
	}
	if a.LargestPassing != 3 || a.Limiter.Who != capacity.LimiterServer || a.USL == nil {
		t.Errorf("Analyze(staged run) = largest passing %d, limiter %q, USL %v, want 3, server, a fit", a.LargestPassing, a.Limiter.Who, a.USL)
	}
	if s := a.Sentences[2]; !strings.HasPrefix(s, "throughput fits the Universal Scalability Law with R² 0.99") {
		t.Errorf("Analyze(staged run).Sentences[2] = %q, want the USL fit", s)
	}
	if s, want := a.Sentences[3], "completed throughput falls short of the offered load from 10,000 devices: 8,100 of 10,000 msg/s (81 %)."; s != want {
		t.Errorf("Analyze(staged run).Sentences[3] = %q, want %q", s, want)
	}
}

// TestAnalyzeUnsorted gives the stages shuffled, with a second stage at
// 7,500 devices whose p99 is worse: indices are into the stages as given,
// and the worse p99 stands for the load.
func TestAnalyzeUnsorted(t *testing.T) {
	run := stagedRun()
	again := run[3]
	again.Name, again.P99MS = "ramp-4-again", 95
	stages := []capacity.Stage{run[4], run[1], again, run[0], run[3], run[2]}
	a := capacity.Analyze(stages, "e2e")
	checkAnalysis(t, stages, a)
	if a.Knee.Index != 2 || a.LargestPassing != 2 {
		t.Errorf("Analyze(shuffled) = knee %+v, largest passing %d, want both index 2", a.Knee, a.LargestPassing)
	}
	want := "e2e p99 stays at or below 95 ms up to 7,500 devices; at 10,000 it is 1.84 s and 3 % of connects fail; largest stage meeting every threshold: 7,500."
	if a.Sentences[0] != want {
		t.Errorf("Analyze(shuffled).Sentences[0] = %q, want %q", a.Sentences[0], want)
	}
}

func TestAnalyzeHeadline(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	with := func(f func(s []capacity.Stage) []capacity.Stage) []capacity.Stage { return f(stagedRun()) }
	tests := []struct {
		name   string
		stages []capacity.Stage
		metric string
		want   string
	}{
		{"flat", with(func(s []capacity.Stage) []capacity.Stage {
			for i := range s {
				s[i].P99MS, s[i].Passed = 40+0.5*float64(i), true
			}
			return s
		}), "ack", "no knee: ack p99 stays between 40 ms and 42 ms across 1,000–10,000 devices; largest stage meeting every threshold: 10,000."},
		{"beyond reach past the knee", with(func(s []capacity.Stage) []capacity.Stage {
			s[4].P99MS, s[4].LossPct, s[4].ConnectFailPct = inf, 12, 0
			return s
		}), "e2e", "e2e p99 stays at or below 88 ms up to 7,500 devices; at 10,000 it is beyond reach (12 % lost); largest stage meeting every threshold: 7,500."},
		{"every failure", with(func(s []capacity.Stage) []capacity.Stage {
			s[4].ErrorPct, s[4].LossPct = 0.25, 1.5
			return s
		}), "", "p99 stays at or below 88 ms up to 7,500 devices; at 10,000 it is 1.84 s, 3 % of connects fail, errors reach 0.25 % and 1.5 % of messages are lost; largest stage meeting every threshold: 7,500."},
		{"no bend", with(func(s []capacity.Stage) []capacity.Stage {
			for i := range s {
				s[i].P99MS = 10 + 20*float64(i)
			}
			return s
		}), "e2e", "no knee: e2e p99 goes from 10 ms at 1,000 to 90 ms at 10,000 devices without bending; largest stage meeting every threshold: 7,500."},
		{"beyond reach everywhere", with(func(s []capacity.Stage) []capacity.Stage {
			for i := range s {
				s[i].P99MS, s[i].Passed = inf, false
			}
			return s
		}), "e2e", "no knee: e2e p99 is beyond reach at every load across 1,000–10,000 devices; no stage meets every threshold."},
		{"one stage", stagedRun()[:1], "e2e", "no knee: e2e p99 measured at 1 load (1,000 devices), 3 needed; largest stage meeting every threshold: 1,000."},
		{"no p99", with(func(s []capacity.Stage) []capacity.Stage {
			for i := range s {
				s[i].P99MS = nan
			}
			return s
		}), "e2e", "no knee: e2e p99 was not measured in any stage; largest stage meeting every threshold: 7,500."},
		{"no stages", nil, "e2e", "no capacity findings: no stage has devices."},
	}
	for _, tt := range tests {
		a := capacity.Analyze(tt.stages, tt.metric)
		checkAnalysis(t, tt.stages, a)
		if a.Sentences[0] != tt.want {
			t.Errorf("Analyze(%s).Sentences[0] = %q, want %q", tt.name, a.Sentences[0], tt.want)
		}
	}
}

// TestAnalyzeLimiter checks who ran out first. Stages are judged up to and
// including the first load past the knee.
func TestAnalyzeLimiter(t *testing.T) {
	with := func(f func(s []capacity.Stage)) []capacity.Stage {
		s := stagedRun()
		f(s)
		return s
	}
	flat := func(s []capacity.Stage) {
		for i := range s {
			s[i].P99MS, s[i].Passed = 40+0.5*float64(i), true
		}
	}
	tests := []struct {
		name   string
		stages []capacity.Stage
		who    string
		reason string // the start of the Reason, or after "…" a part of it
	}{
		{"schedule late, server flat", with(func(s []capacity.Stage) {
			flat(s)
			for i, lag := range []float64{0.5, 1, 4, 15, 60} {
				s[i].ScheduleLagP99MS = lag
			}
		}), capacity.LimiterGenerator, "m2msim ran out first, not the server: at 7,500 devices its schedule ran 15 ms late at p99 (bound 10 ms); " +
			"figures from that load on measure m2msim as much as the server"},
		{"server climbs, generator healthy", stagedRun(), capacity.LimiterServer, "the server ran out first: its p99 climbs after 7,500 devices, " +
			"while m2msim kept up through 10,000 (schedule lag p99 at most 1.2 ms, CPU at most 47.5 % of its cores, open files at most 15.4 % of the limit)"},
		{"CPU saturated at the knee", with(func(s []capacity.Stage) { s[3].CPUPct = 760 }), capacity.LimiterGenerator,
			"…at 7,500 devices its CPU averaged 760 % of one core, 95 % of its 8 cores (bound 90 %);"},
		{"open files past the knee", with(func(s []capacity.Stage) { s[4].OpenFiles = 60000 }), capacity.LimiterGenerator,
			"…at 10,000 devices it held 60,000 of 65,536 open files, 91.6 % of its limit (bound 90 %);"},
		{"lag comparable to a small p99", with(func(s []capacity.Stage) {
			for i := range s {
				s[i].P99MS, s[i].ScheduleLagP99MS = 9+0.1*float64(i), 0.3
			}
			s[2].ScheduleLagP99MS = 6
		}), capacity.LimiterGenerator, "…at 5,000 devices its schedule ran 6 ms late at p99, over half the stage's p99 of 9.2 ms;"},
		{"a scheduler's millisecond is no limit", with(func(s []capacity.Stage) {
			for i := range s {
				s[i].P99MS, s[i].ScheduleLagP99MS = 2+0.1*float64(i), 1.5
			}
		}), capacity.LimiterServer, "the server ran out first"},
		{"backend behind", with(func(s []capacity.Stage) { s[1].BackendLagP99MS = 250 }), capacity.LimiterGenerator,
			"…at 2,500 devices its backend read 250 ms late at p99 (bound 100 ms);"},
		{"several at once", with(func(s []capacity.Stage) { s[3].CPUPct, s[3].ScheduleLagP99MS = 760, 30 }), capacity.LimiterGenerator,
			"…its schedule ran 30 ms late at p99 (bound 10 ms) and its CPU averaged 760 %"},
		{"generator saturated beyond the window", append(stagedRun(), capacity.Stage{Name: "ramp-6", Devices: 12500, P99MS: 5000,
			ScheduleLagP99MS: 80, CPUPct: 790, Cores: 8}), capacity.LimiterServer, "the server ran out first: its p99 climbs after 7,500 devices"},
		{"cores unknown", with(func(s []capacity.Stage) {
			for i := range s {
				s[i].Cores, s[i].OpenFilesLimit = 0, 0
			}
		}), capacity.LimiterServer, "…(schedule lag p99 at most 1.2 ms, CPU and open files not measured)"},
		{"no knee, every stage passes", with(flat), capacity.LimiterNone, "neither ran out: p99 has no knee and every stage meets its thresholds up to 10,000 devices, " +
			"and m2msim kept up (schedule lag p99 at most 1.2 ms, CPU at most 47.5 % of its cores, open files at most 15.4 % of the limit)"},
		{"no knee, a stage fails", with(func(s []capacity.Stage) { flat(s); s[4].Passed = false }), capacity.LimiterServer,
			"the server ran out first: the stage at 10,000 devices misses a threshold, while m2msim kept up through 10,000"},
	}
	for _, tt := range tests {
		a := capacity.Analyze(tt.stages, "e2e")
		checkAnalysis(t, tt.stages, a)
		l := a.Limiter
		ok := strings.HasPrefix(l.Reason, tt.reason)
		if part, found := strings.CutPrefix(tt.reason, "…"); found {
			ok = strings.Contains(l.Reason, part)
		}
		if l.Who != tt.who || !ok {
			t.Errorf("Analyze(%s).Limiter = %q: %q, want %q: %q", tt.name, l.Who, l.Reason, tt.who, tt.reason)
		}
		if a.Sentences[1] != l.Reason+"." {
			t.Errorf("Analyze(%s).Sentences[1] = %q, want the limiter's reason", tt.name, a.Sentences[1])
		}
	}
}

func TestAnalyzeUSLSentence(t *testing.T) {
	c := uslCase{"peak within", 1, 0.0005, 2e-8, 1000, 10000, 10, false}
	n, x := c.draw(0, 1)
	var stages []capacity.Stage
	for i := range n {
		stages = append(stages, capacity.Stage{Devices: int(n[i]), ThroughputPerSec: x[i], P99MS: 40})
	}
	a := capacity.Analyze(stages, "ack")
	want := "throughput fits the Universal Scalability Law with R² 1.000 (λ 1 msg/s for one device, σ 0.0005, κ 2e-08): it peaks at 1,280 msg/s near 7,070 devices."
	if a.Sentences[2] != want {
		t.Errorf("Analyze(%s).Sentences[2] = %q, want %q", c.name, a.Sentences[2], want)
	}
	a = capacity.Analyze(stages[:2], "ack")
	if want := "no Universal Scalability Law fit: fewer than 3 distinct loads have a throughput."; a.USL != nil || a.Sentences[2] != want {
		t.Errorf("Analyze(two stages) = USL %v, %q, want none, %q", a.USL, a.Sentences[2], want)
	}
}

func TestAnalyzeBadInput(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name   string
		stages []capacity.Stage
	}{
		{"empty", []capacity.Stage{}},
		{"zero devices", []capacity.Stage{{Devices: 0, P99MS: 10, Passed: true}, {Devices: -5, P99MS: 20}}},
		{"NaN everywhere", []capacity.Stage{
			{Devices: 1, P99MS: nan, ThroughputPerSec: nan, OfferedPerSec: nan, CPUPct: nan, Cores: 1, ScheduleLagP99MS: nan},
			{Devices: 2, P99MS: nan, ThroughputPerSec: nan, LossPct: nan, ConnectFailPct: nan},
			{Devices: 3, P99MS: nan, ThroughputPerSec: nan},
		}},
		{"duplicate loads", []capacity.Stage{{Devices: 5, P99MS: 1}, {Devices: 5, P99MS: 2}, {Devices: 5, P99MS: inf}, {Devices: 5, P99MS: 3}}},
		{"negative figures", []capacity.Stage{{Devices: 1, P99MS: -1, ThroughputPerSec: -1}, {Devices: 2, P99MS: 5}, {Devices: 3, P99MS: 500}, {Devices: 4, P99MS: 5000}}},
		{"huge figures", []capacity.Stage{{Devices: math.MaxInt, P99MS: math.MaxFloat64, ThroughputPerSec: math.MaxFloat64},
			{Devices: 1, P99MS: 1}, {Devices: 2, P99MS: 1e300, ThroughputPerSec: 1e300}}},
	}
	for _, tt := range tests {
		checkAnalysis(t, tt.stages, capacity.Analyze(tt.stages, "e2e"))
	}
}

// checkAnalysis checks what holds of every analysis: indices in range and
// consistent with the stages, a limiter, and sentences.
func checkAnalysis(t *testing.T, stages []capacity.Stage, a capacity.Analysis) {
	t.Helper()
	k := a.Knee
	switch {
	case k.Index < -1 || k.Index >= len(stages):
		t.Errorf("Analyze(%v).Knee.Index = %d, want -1..%d", stages, k.Index, len(stages)-1)
	case k.Found != (k.Index >= 0):
		t.Errorf("Analyze(%v).Knee = %+v, want an index exactly when found", stages, k)
	case k.Found && stages[k.Index].Devices != k.Devices:
		t.Errorf("Analyze(%v).Knee = %+v, want the devices of stage %d", stages, k, k.Index)
	}
	if i := a.LargestPassing; i < -1 || i >= len(stages) || i >= 0 && !stages[i].Passed {
		t.Errorf("Analyze(%v).LargestPassing = %d, want -1 or a passing stage", stages, i)
	}
	if w := a.Limiter.Who; w != capacity.LimiterServer && w != capacity.LimiterGenerator && w != capacity.LimiterNone || a.Limiter.Reason == "" {
		t.Errorf("Analyze(%v).Limiter = %+v, want server, generator or none with a reason", stages, a.Limiter)
	}
	if len(a.Sentences) == 0 {
		t.Errorf("Analyze(%v).Sentences are empty", stages)
	}
}
