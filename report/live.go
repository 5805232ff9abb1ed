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

// Live returns the run's state now. It is safe to call while events are
// recorded, about once a second: it merges the shards' figures but
// encodes no histogram.
func (c *Collector) Live() Live {
	elapsed := c.now().Sub(c.started())
	l := Live{Name: c.info.Name, File: c.info.File, Seed: c.info.Seed, Phase: PhaseRunning,
		ElapsedS: seconds(elapsed), PlannedS: seconds(c.info.Duration), StageIndex: c.stageAt(elapsed),
		Planned: c.info.Devices, Devices: DeviceStates{Connected: c.connected.Load()}}
	if c.info.Duration > 0 && elapsed > c.info.Duration {
		l.Phase = PhaseDraining
	}
	for _, s := range c.info.Stages {
		l.Stages = append(l.Stages, s.Name)
	}
	if l.StageIndex >= 0 {
		l.Stage = l.Stages[l.StageIndex]
	}
	if _, ob := c.observations(); ob.set {
		l.Devices = DeviceStates{Connecting: ob.census.Connecting, Connected: ob.census.Connected,
			Sleeping: ob.census.Sleeping, Offline: ob.census.Offline}
	}
	stages, errs := c.gatherStages()
	r := c.resultOf(StatusPassed, elapsed, &state{stages: stages, groups: c.gatherGroups(), errs: errs,
		connectedMax: c.connectedMax.Load(), summaryOnly: true})
	Evaluate(r, c.info.Thresholds)
	l.Thresholds, l.Warnings, l.Errors = r.Thresholds, r.Warnings, r.Errors
	l.Totals = map[string]int64{"sent": r.Messages.Sent, "acked": r.Messages.Acked, "received": r.Messages.Received,
		"lost": r.Messages.Lost, "connects": r.Devices.Connects, "errors": r.Errors.Total(),
		"commands": r.Commands.Sent, "requests": r.Requests.Sent}
	c.liveWindow(&l, elapsed)
	for _, g := range r.Groups {
		lg := LiveGroup{Name: g.Name, Devices: g.Devices, Sent: g.Messages.Sent, Received: g.Messages.Received,
			Errors: g.Messages.PublishFailures}
		if rad := g.Radio; rad.Frames+rad.Collisions+g.Messages.Deferred+rad.DownlinkWaitMS.Count > 0 {
			lg.Radio = &RadioPoint{AirtimeS: rad.AirtimeS, Deferred: g.Messages.Deferred, Collisions: rad.Collisions,
				DownlinkWaitMS: rad.DownlinkWaitMS.Max}
		}
		l.Groups = append(l.Groups, lg)
	}
	return l
}

// liveWindow sets l's rates and latencies over the last complete
// intervals, up to LiveWindow.
func (c *Collector) liveWindow(l *Live, elapsed time.Duration) {
	l.Rates, l.Latency = map[string]float64{}, map[string]Quantiles{}
	last := min(int(elapsed/c.iv)-1, c.maxBucket)
	first := max(0, last-max(1, int(LiveWindow/c.iv))+1)
	if last < first {
		return
	}
	series, _ := c.gatherRange(first, last)
	var sum second
	for i := range series {
		sum.add(series[i])
	}
	sum.fromKinds()
	p := c.pointOf(0, &sum, observation{}, 0)
	span := float64(len(series))
	for k, v := range p.Rates {
		l.Rates[k] = round3(v / span)
	}
	l.Latency = p.Latency
	l.WindowS = seconds(time.Duration(len(series)) * c.iv)
}
