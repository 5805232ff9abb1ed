package report

import "time"

// LiveWindow is the span of Live's rates and latencies: the last
// complete intervals, up to this long.
const LiveWindow = 10 * time.Second

// Phase is where a live run stands.
type Phase string

// Phases of a run, in order.
const (
	PhaseRunning  Phase = "running"
	PhaseDraining Phase = "draining" // the schedule is over; messages in flight may still finish
	PhaseFinished Phase = "finished"
)

// Live is a run's state now, for the live view: what a person watching
// needs besides the history of Points. It carries no secret (no password,
// key or PSK): only names, counts and figures.
type Live struct {
	Name     string  `json:"name"`
	File     string  `json:"file"`
	Seed     uint64  `json:"seed"`
	Phase    Phase   `json:"phase"`
	ElapsedS float64 `json:"elapsed_s"`
	// PlannedS is the planned duration; 0 for an open-ended run.
	PlannedS float64 `json:"planned_s"`
	// Stage is the current stage's name, StageIndex its index (-1 without
	// stages) and Stages every stage's name in order.
	Stage      string   `json:"stage,omitempty"`
	StageIndex int      `json:"stage_index"`
	Stages     []string `json:"stages,omitempty"`
	// Planned is the fleet size; Devices the states now.
	Planned int          `json:"planned"`
	Devices DeviceStates `json:"devices"`
	// Totals are counts over the run so far, by counter name as in
	// Point.Rates.
	Totals map[string]int64 `json:"totals"`
	// WindowS is the span of Rates and Latency: the last complete
	// intervals, at most LiveWindow.
	WindowS float64              `json:"window_s"`
	Rates   map[string]float64   `json:"rates"`
	Latency map[string]Quantiles `json:"latency_ms"`
	// Errors counts failures by kind over the run so far.
	Errors map[string]int64 `json:"errors"`
	// Thresholds are the scenario's thresholds judged on the figures so
	// far; they may still change until Phase is finished.
	Thresholds []ThresholdResult `json:"thresholds"`
	// Warnings are the result's warnings so far (a backend falling
	// behind, ...).
	Warnings []string `json:"warnings"`
	// Groups are per-group figures so far.
	Groups []LiveGroup `json:"groups"`
}

// LiveGroup is one device group's figures so far.
type LiveGroup struct {
	Name     string `json:"name"`
	Devices  int    `json:"devices"`
	Sent     int64  `json:"sent"`
	Received int64  `json:"received"`
	Errors   int64  `json:"errors"`
	// Radio is set for a group with a radio.
	Radio *RadioPoint `json:"radio,omitempty"`
}
