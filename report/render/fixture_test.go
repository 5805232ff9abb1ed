package render

import (
	"math"
	"time"

	"github.com/m2msim/m2msim/report"
)

// r3 rounds to three decimals, so fixtures hold the same figures on
// every architecture (some fuse a*b+c).
func r3(v float64) float64 { return math.Round(v*1000) / 1000 }

var fixtureStages = []struct {
	name    string
	devices int
}{{"warm-up", 500}, {"step-1k", 1000}, {"step-2k", 2000}, {"step-4k", 4000}}

const stageS = 30

// fixtureInput is a realistic staged run: four stages of 30 s that double
// the load, two groups of which one has a radio, timeouts and refusals,
// a failed threshold, and a capacity with a knee and a USL fit.
func fixtureInput() Input {
	return Input{
		Result:   fixtureResult(),
		Points:   fixturePoints(4 * stageS),
		Capacity: fixtureCapacity(),
		Command:  "m2msim run scenarios/examples/ramp.yaml --seed 7 --out results/ramp",
	}
}

func fixtureResult() *report.Result {
	r := &report.Result{
		Schema: report.Schema, Status: report.StatusFailed, Seed: 7,
		Scenario: report.Scenario{Name: "ramp-mqtt", File: "scenarios/examples/ramp.yaml"},
		Started:  time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC), ElapsedS: 120.412, PlannedDurationS: 120,
		Warnings: []string{"the last stage's e2e p99 is beyond reach: 3.1% of its timed messages were lost"},
		Devices: report.Devices{Planned: 4000, ConnectedMax: 3988, Connects: 4012, ConnectFailures: 12,
			Disconnects: 24, Reconnects: 24, Closed: 3988},
		Connect: report.ConnectStats{SuccessPct: 99.702},
		Messages: report.Messages{Sent: 16410, Timed: 16410, Acked: 16290, Unacked: 57, Received: 16213, Lost: 197,
			LossPct: 1.2, LostUnacked: 57, LostAfterAck: 120, LostUnconfirmed: 20, Duplicates: 3, PublishFailures: 4, Deferred: 310},
		Commands: report.Commands{Sent: 240, Replied: 236, Unanswered: 4},
		Requests: report.Requests{},
		Backend:  report.Backend{Connections: 2, E2E: report.Sample{Fraction: 1, Devices: 4000, Fleet: 4000}},
		LatencyMS: report.Latencies{
			Connect:     stats(4012, 12, 18.5, 40.2, 95.1, 140.7, 212.9, 24.3),
			Ack:         stats(16290, 57, 9.8, 31.4, 160.2, 300.1, 512.6, 15.2),
			E2E:         beyondStats(16213, 197, 14.2, 88.6, 1840.3, 30.9),
			Command:     stats(236, 4, 45.1, 120.8, 410.2, 410.2, 560.4, 61.3),
			ScheduleLag: stats(16410, 0, 0.05, 0.4, 2.1, 4.2, 4.9, 0.12),
			BackendLag:  stats(16213, 0, 0.08, 0.3, 1.7, 3.3, 6.2, 0.14),
		},
		Errors:     report.ErrorCounts{"timeout": 57, "refused": 12},
		Groups:     fixtureGroups(),
		Series:     report.Series{IntervalS: 1},
		Thresholds: fixtureThresholds(),
	}
	for i, s := range fixtureStages {
		r.Stages = append(r.Stages, fixtureStage(i, s.name, s.devices))
	}
	return r
}

func stats(n, missing int64, p50, p90, p99, p999, maxMS, mean float64) report.LatencyStats {
	return report.LatencyStats{Count: n, Missing: missing, P50: report.Judged{V: p50}, P90: report.Judged{V: p90},
		P99: report.Judged{V: p99}, P999: report.Judged{V: p999}, Max: maxMS, Mean: mean}
}

// beyondStats is a distribution whose p99 and p99.9 fall among the
// missing flows.
func beyondStats(n, missing int64, p50, p90, maxMS, mean float64) report.LatencyStats {
	s := stats(n, missing, p50, p90, 0, 0, maxMS, mean)
	s.P99, s.P999 = report.Judged{Beyond: true}, report.Judged{Beyond: true}
	return s
}

func fixtureStage(i int, name string, devices int) report.StageResult {
	sent := int64(devices * 3 / 2 * stageS / 10)
	lost := int64([]int{0, 2, 40, 155}[i])
	s := report.StageResult{Name: name, StartS: float64(i * stageS), EndS: float64((i + 1) * stageS), Devices: devices,
		Messages: report.Messages{Sent: sent, Timed: sent, Acked: sent - lost/2, Received: sent - lost, Lost: lost,
			LossPct: r3(100 * float64(lost) / float64(sent))},
		Commands: report.Commands{Sent: 60, Replied: 60 - int64(i), Unanswered: int64(i)},
	}
	s.LatencyMS.Ack = stats(sent, 0, 8, 20, r3(30*math.Pow(2.2, float64(i))), 300, 512, 12)
	s.LatencyMS.E2E = stats(sent-lost, lost, 12, 30, r3(40*math.Pow(2.5, float64(i))), 900, 1840, 20)
	if i == 3 {
		s.LatencyMS.E2E.P99 = report.Judged{Beyond: true}
	}
	return s
}

func fixtureGroups() []report.GroupResult {
	return []report.GroupResult{
		{Name: "meters", Devices: 3000, TimedDevices: 3000,
			Messages: report.Messages{Sent: 12300, Timed: 12300, Acked: 12210, Received: 12160, Lost: 140, LossPct: 1.138},
			Commands: report.Commands{Sent: 180, Replied: 178, Unanswered: 2}},
		{Name: "lora-sensors", Devices: 1000, TimedDevices: 1000,
			Messages: report.Messages{Sent: 4110, Timed: 4110, Acked: 4080, Received: 4053, Lost: 57, LossPct: 1.387, Deferred: 310},
			Commands: report.Commands{Sent: 60, Replied: 58, Unanswered: 2},
			Radio: report.GroupRadio{Frames: 4420, Collisions: 31, AirtimeS: 251.4,
				QueueAgeMS:     report.Spread{Count: 310, Mean: 820.5, Max: 4100},
				DownlinkWaitMS: report.Spread{Count: 60, Mean: 2400, Max: 9800},
				Wakes:          4110, AsleepS: 98500}},
	}
}

func fixtureThresholds() []report.ThresholdResult {
	return []report.ThresholdResult{
		{Expr: "latency.e2e.p90 < 250ms", Actual: report.Judged{V: 88.6}, Passed: true},
		{Expr: "latency.ack.p99 < 100ms", Actual: report.Judged{V: 160.2},
			Reason: "latency.ack.p99 is 160.2ms, not < 100ms"},
		{Expr: "messages.loss < 5%", Actual: report.Judged{V: 1.2}, Passed: true},
		{Expr: "connect.success >= 99%", Actual: report.Judged{V: 99.702}, Passed: true},
	}
}

// fixtureLatency is each metric's p50 in ms at the fixture's first stage.
var fixtureLatency = map[string]float64{"connect": 18, "ack": 8, "e2e": 12, "command": 40, "schedule_lag": 0.05, "backend_lag": 0.08}

// fixturePoints is n one-second intervals over the fixture's stages,
// every figure a smooth function of time with a burst at each stage's
// start.
func fixturePoints(n int) []report.Point {
	pts := make([]report.Point, n)
	for i := range pts {
		pts[i] = fixturePoint(i, n)
	}
	return pts
}

func fixturePoint(i, n int) report.Point {
	span := max(1, n/len(fixtureStages))
	si := min(i/span, len(fixtureStages)-1)
	st := fixtureStages[si]
	into := i - si*span // seconds into the stage
	load := math.Pow(2, float64(si))
	wave := 1 + 0.2*math.Sin(float64(i)/7)
	burst := math.Exp(-float64(into) / 3)
	active := st.devices
	connecting := int64(float64(active/2) * burst)
	sleeping := int64(active / 10)
	connected := int64(active) - connecting - sleeping - int64(si)
	p := report.Point{
		T: float64(i + 1), Stage: st.name, Active: active,
		Devices: report.DeviceStates{Connecting: connecting, Connected: connected, Sleeping: sleeping, Offline: int64(si)},
		Rates: map[string]float64{
			"sent": r3(float64(active) * 0.15 * wave), "acked": r3(float64(active) * 0.148 * wave),
			"received": r3(float64(active) * (0.15 - 0.004*float64(si)) * wave),
			"connects": r3(float64(active) / 2 * burst), "commands": 2,
		},
		Latency: map[string]report.Quantiles{},
		Errors:  map[string]int64{},
		Radio: &report.RadioPoint{AirtimeS: r3(0.5 * load * wave), Deferred: int64(2 * load * wave),
			Collisions: int64(si * (i % 3)), DownlinkWaitMS: r3(1500 + 800*wave*load)},
		Self: report.Self{ScheduleLagMS: r3(0.5 * load * wave), CPUPct: r3(6 * load * wave),
			OpenFiles: connected + connecting + 40, OpenFilesMax: 65536},
	}
	for m, base := range fixtureLatency {
		if m == "connect" && into > 8 {
			continue
		}
		p50 := base * (1 + 0.5*float64(si)*float64(si)) * wave
		p.Latency[m] = report.Quantiles{Count: int64(active / 10), P50: r3(p50), P90: r3(p50 * 2.5),
			P99: r3(p50 * 6 * load), Max: r3(p50 * 20 * load)}
	}
	if si == 3 {
		p.Errors["timeout"] = int64(1 + i%3)
		p.Rates["errors"] = float64(1 + i%3)
	}
	if si == 2 && into < 4 {
		p.Errors["refused"] = 3
	}
	return p
}

// uslCurve is the USL throughput of n devices.
func uslCurve(lambda, sigma, kappa float64) func(n float64) float64 {
	return func(n float64) float64 { return lambda * n / (1 + sigma*(n-1) + kappa*n*(n-1)) }
}

func fixtureCapacity() *Capacity {
	const lambda, sigma, kappa = 0.15, 5.6e-5, 2.78e-8
	return &Capacity{
		Metric: "e2e",
		Sentences: []string{
			"The server kept e2e p99 under 250 ms up to 1000 devices (148 messages/s); latency turns up at 2000 devices.",
			"At 4000 devices the e2e p99 was beyond reach: 3.1% of the timed messages were lost.",
			"Throughput flattens near 360 messages/s, as the USL fit predicts.",
		},
		Rows: []CapacityRow{
			{Stage: "warm-up", Devices: 500, OfferedPerSec: 75, ThroughputPerSec: 74.1, P50MS: 12.2, P99MS: 41.8, ConnectFailPct: 0, ErrorPct: 0, LossPct: 0, Passed: true},
			{Stage: "step-1k", Devices: 1000, OfferedPerSec: 150, ThroughputPerSec: 147.9, P50MS: 14.6, P99MS: 98.3, ConnectFailPct: 0, ErrorPct: 0, LossPct: 0.044, Passed: true},
			{Stage: "step-2k", Devices: 2000, OfferedPerSec: 300, ThroughputPerSec: 244.6, P50MS: 31.9, P99MS: 262.5, ConnectFailPct: 0.3, ErrorPct: 0.1, LossPct: 0.444, Passed: false},
			{Stage: "step-4k", Devices: 4000, OfferedPerSec: 600, ThroughputPerSec: 361.2, P50MS: 118.4, P99MS: math.Inf(1), ConnectFailPct: 0.2, ErrorPct: 0.6, LossPct: 3.1, Passed: false},
		},
		KneeIndex: 2, LargestPassing: 1,
		USL: &USLFit{Lambda: lambda, Sigma: sigma, Kappa: kappa, PeakDevices: 5997, PeakThroughput: 385.2, R2: 0.994,
			Curve: uslCurve(lambda, sigma, kappa)},
		Limiter:       "server",
		LimiterReason: "throughput flattened while m2msim's schedule lag stayed under 5 ms and its CPU under 50%",
	}
}

// minimalInput is a run without stages, points or thresholds.
func minimalInput() Input {
	return Input{
		Result: &report.Result{
			Schema: report.Schema, Status: report.StatusPassed, Seed: 1,
			Scenario: report.Scenario{Name: "smoke"}, ElapsedS: 2, Warnings: []string{},
			Devices:  report.Devices{Planned: 1, ConnectedMax: 1, Connects: 1, Closed: 1},
			Connect:  report.ConnectStats{SuccessPct: 100},
			Messages: report.Messages{Sent: 4, Timed: 4, Acked: 4, Received: 4},
			LatencyMS: report.Latencies{
				Connect: stats(1, 0, 20, 20, 20, 20, 20, 20),
				E2E:     stats(4, 0, 1.8, 1.8, 1.8, 1.8, 1.8, 1.8),
			},
			Errors:     report.ErrorCounts{},
			Thresholds: []report.ThresholdResult{},
		},
		Command: "m2msim run smoke.yaml --seed 1",
	}
}
