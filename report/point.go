package report

// Point is what happened in one interval of a run: the unit of every
// chart over time, of timeseries.csv and of the live view. Points come
// from a Result (Timeline) or, live, from a Collector (Collector.Points):
// both give the same figures for the same interval.
type Point struct {
	// T is the end of the interval, in seconds from the start of the run;
	// the interval is [T - Result.Series.IntervalS, T).
	T float64 `json:"t"`
	// Stage names the stage the interval ends in; "" without stages.
	Stage string `json:"stage,omitempty"`
	// Active is how many devices the plan has active then (the stage's
	// devices, or the whole fleet).
	Active  int          `json:"active"`
	Devices DeviceStates `json:"devices"`
	// Rates are per second over the interval, by counter name: "sent",
	// "acked", "received", "connects", "errors", "commands",
	// "requests", and any counter a protocol adds.
	Rates map[string]float64 `json:"rates"`
	// Latency is each latency metric's distribution over the interval,
	// by metric name ("connect", "ack", "e2e", ...); a metric without
	// samples in the interval is absent.
	Latency map[string]Quantiles `json:"latency_ms"`
	// Errors counts the failures in the interval, by kind.
	Errors map[string]int64 `json:"errors"`
	// Radio holds the radio figures of the interval, summed over the
	// groups that have a radio; nil when none has.
	Radio *RadioPoint `json:"radio,omitempty"`
	// Self is m2msim's own load at the end of the interval: the
	// generator's limit, to tell apart from the server's.
	Self Self `json:"self"`
}

// DeviceStates counts devices by state at the end of an interval. Active
// devices that are none of connecting, connected or sleeping are Offline:
// waiting to reconnect, or not yet started.
type DeviceStates struct {
	Connecting int64 `json:"connecting"`
	Connected  int64 `json:"connected"`
	Sleeping   int64 `json:"sleeping"`
	Offline    int64 `json:"offline"`
}

// Quantiles summarises one latency distribution in milliseconds. The
// percentiles are of the finished flows only (a chart over time shows the
// flows that finished in each interval; loss is its own line).
type Quantiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// RadioPoint is what the radios did in one interval.
type RadioPoint struct {
	// AirtimeS is the time on air of every frame sent in the interval.
	AirtimeS float64 `json:"airtime_s"`
	// Deferred counts sends a duty cycle or time on air held back.
	Deferred int64 `json:"deferred"`
	// Collisions counts frames lost on the air.
	Collisions int64 `json:"collisions"`
	// DownlinkWaitMS is the longest a command waited for its device to
	// listen.
	DownlinkWaitMS float64 `json:"downlink_wait_max_ms"`
}

// Self is the load generator's own state: how late its schedule ran
// (the largest schedule lag in the interval), how much CPU it used (in
// percent of one core) on how many cores, and how many files it had open,
// against its limit.
type Self struct {
	ScheduleLagMS float64 `json:"schedule_lag_max_ms"`
	CPUPct        float64 `json:"cpu_pct"`
	Procs         int64   `json:"procs,omitempty"`
	OpenFiles     int64   `json:"open_files"`
	OpenFilesMax  int64   `json:"open_files_limit"`
}
