package report

import (
	"time"
)

// Schema names the format of result.json. Readers also take SchemaV1 and
// reject any other.
const Schema = "m2msim.result/v2"

// SchemaV1 is the earlier format: percentiles over the finished flows
// only, loss over every message sent. ReadJSON upgrades it on reading.
const SchemaV1 = "m2msim.result/v1"

// Status is how a run ended.
type Status string

// Run outcomes.
const (
	StatusPassed      Status = "passed"
	StatusFailed      Status = "failed" // a threshold failed
	StatusInterrupted Status = "interrupted"
	// StatusAborted is a run cut short a second time: its drain was
	// skipped, so in-flight messages count as unfinished.
	StatusAborted Status = "aborted"
)

// Result is everything a run measured, as written to result.json. Field
// order is the JSON order; the README's result reference documents each field.
// Latencies are in milliseconds with microsecond precision, times in
// seconds.
type Result struct {
	Schema           string    `json:"schema"`
	Status           Status    `json:"status"`
	Seed             uint64    `json:"seed"`
	Scenario         Scenario  `json:"scenario"`
	Started          time.Time `json:"started"`
	ElapsedS         float64   `json:"elapsed_s"`
	PlannedDurationS float64   `json:"planned_duration_s"`
	// Warnings are sentences a reader must not miss, such as a backend
	// that fell behind; [] when there are none.
	Warnings  []string      `json:"warnings"`
	Devices   Devices       `json:"devices"`
	Connect   ConnectStats  `json:"connect"`
	Messages  Messages      `json:"messages"`
	Commands  Commands      `json:"commands"`
	Requests  Requests      `json:"requests"`
	Backend   Backend       `json:"backend"`
	LatencyMS Latencies     `json:"latency_ms"`
	Errors    ErrorCounts   `json:"errors"`
	Stages    []StageResult `json:"stages,omitempty"`
	Groups    []GroupResult `json:"groups,omitempty"`
	// Protocols sums the groups by protocol, when the run mixes them.
	Protocols  []ProtocolResult  `json:"protocols,omitempty"`
	Series     Series            `json:"series"`
	Thresholds []ThresholdResult `json:"thresholds"`
	// Metrics holds the measurements everything above derives from; nil
	// in a result read from a v1 file.
	Metrics *Metrics `json:"metrics,omitempty"`
	// Shard says which shard of a sharded run this is; nil for a whole
	// run and for a merged result.
	Shard *Shard `json:"shard,omitempty"`
	// Shards is each shard's health in a result merged from shards.
	Shards []ShardHealth `json:"shards,omitempty"`
}

// Scenario names what was run.
type Scenario struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// Devices counts connection events over the fleet.
type Devices struct {
	Planned         int   `json:"planned"`
	ConnectedMax    int64 `json:"connected_max"`
	Connects        int64 `json:"connects"`
	ConnectFailures int64 `json:"connect_failures"`
	// ConnectUnfinished counts attempts the end of the run cut short
	// (in flight at the end, or cancelled by an interrupt): neither
	// connects nor failures.
	ConnectUnfinished int64 `json:"connect_unfinished"`
	Disconnects       int64 `json:"disconnects"`
	Reconnects        int64 `json:"reconnects"`
	Closed            int64 `json:"closed"`
}

// ConnectStats summarises connect attempts.
type ConnectStats struct {
	// SuccessPct is connects / (connects + failures) in percent, leaving
	// out unfinished attempts; 0 without attempts.
	SuccessPct float64 `json:"success_pct"`
}

// Messages counts telemetry messages. Loss is judged over the timed
// messages, those from devices the backend times end to end, and every
// lost one is attributed: LostUnacked + LostAfterAck + LostUnconfirmed =
// Lost. The attribution is by counts (the engine does not follow each lost
// message), in that order: a lost message is taken as never acknowledged
// while the timed Unacked last, then as acknowledged while the timed Acked
// last; the rest had no acknowledgement to say where they went (QoS 0).
type Messages struct {
	Sent int64 `json:"sent"`
	// Timed counts the messages sent by devices the backend times end to
	// end: the ones whose delivery is expected.
	Timed int64 `json:"timed"`
	Acked int64 `json:"acked"`
	// Unacked counts QoS 1/2 messages given up without their PUBACK or
	// PUBCOMP because their connection was lost or closed first, from
	// every device.
	Unacked  int64 `json:"unacked"`
	Received int64 `json:"received"`
	// Lost is max(0, Timed - Received); LossPct is Lost / Timed in percent.
	Lost    int64   `json:"lost"`
	LossPct float64 `json:"loss_pct"`
	// LostUnacked were never acknowledged by the broker: it or the link
	// lost them before accepting them, or their connection ended first.
	LostUnacked int64 `json:"lost_unacked"`
	// LostAfterAck were acknowledged by the broker but never reached the
	// backend: the broker dropped them on the way out (or still held them
	// at the end), or the backend fell behind.
	LostAfterAck int64 `json:"lost_after_ack"`
	// LostUnconfirmed were sent and never delivered, with no
	// acknowledgement to say where they went (QoS 0).
	LostUnconfirmed int64 `json:"lost_unconfirmed"`
	Duplicates      int64 `json:"duplicates"`
	PublishFailures int64 `json:"publish_failures"`
	// Deferred counts sends a radio held back (duty cycle, time on air)
	// before they went out.
	Deferred int64 `json:"deferred"`
}

// Commands counts backend-to-device exchanges.
type Commands struct {
	Sent    int64 `json:"sent"`
	Replied int64 `json:"replied"`
	// Unanswered is max(0, Sent - Replied): commands sent whose reply
	// never reached the backend.
	Unanswered int64 `json:"unanswered"`
}

// Requests counts device-to-backend exchanges.
type Requests struct {
	Sent     int64 `json:"sent"`
	Answered int64 `json:"answered"`
	// Unanswered is max(0, Sent - Answered).
	Unanswered int64 `json:"unanswered"`
}

// Backend describes m2msim's own backend: how many connections it used,
// which devices it timed end to end, and whether it fell behind: whether
// its lag, LatencyMS.BackendLag, had a p99 over 100 ms or a maximum over
// 1 s.
type Backend struct {
	// Connections is how many connections the backend used; 0 when the
	// run did not say.
	Connections int    `json:"connections"`
	E2E         Sample `json:"e2e"`
	Behind      bool   `json:"behind"`
}

// Sample is the part of the fleet timed end to end: Fraction of each
// group's telemetry devices, chosen by the seed, which came to Devices of
// the Fleet.
type Sample struct {
	Fraction float64 `json:"fraction"`
	Devices  int     `json:"devices"`
	Fleet    int     `json:"fleet"`
}

// Latencies holds one distribution per latency kind; every kind is always
// present, with Count 0 when it had no samples.
type Latencies struct {
	Connect     LatencyStats `json:"connect"`
	Ack         LatencyStats `json:"ack"`
	E2E         LatencyStats `json:"e2e"`
	Command     LatencyStats `json:"command"`
	Request     LatencyStats `json:"request"`
	ScheduleLag LatencyStats `json:"schedule_lag"`
	BackendLag  LatencyStats `json:"backend_lag"`
}

// byIndex returns the distribution for latency kind i, in latencyNames
// order.
func (l *Latencies) byIndex(i int) *LatencyStats {
	return [...]*LatencyStats{&l.Connect, &l.Ack, &l.E2E, &l.Command, &l.Request, &l.ScheduleLag, &l.BackendLag}[i]
}

// LatencyStats describes a latency distribution in milliseconds: Count
// flows that finished and Missing that never did (a lost message, an
// unacknowledged publish, an unanswered command or request, a failed
// connect). The percentiles are judged: each is the nearest-rank
// percentile of all Count + Missing flows, every missing flow counted as
// slower than any finished one, so a percentile whose rank falls among the
// missing is beyond reach (Judged.Beyond). Reachable ones come from an HDR
// histogram (3 significant figures, at most 0.1% high, never above Max).
// Max and Mean cover the finished flows only and are exact.
type LatencyStats struct {
	Count   int64   `json:"count"`
	Missing int64   `json:"missing"`
	P50     Judged  `json:"p50"`
	P90     Judged  `json:"p90"`
	P99     Judged  `json:"p99"`
	P999    Judged  `json:"p999"`
	Max     float64 `json:"max"`
	Mean    float64 `json:"mean"`
}

// MissingPct is Missing as a percentage of all flows; 0 without any.
func (s LatencyStats) MissingPct() float64 {
	if s.Count+s.Missing == 0 {
		return 0
	}
	return 100 * float64(s.Missing) / float64(s.Count+s.Missing)
}

// CounterBrokerRestart is the counter (Metrics.Counters) that holds the
// embedded broker's restarts, a scenario's target.restart; the report
// marks each on its charts over time.
const CounterBrokerRestart = "broker_restart"

// ErrorCounts counts failures by error kind (see sim.ErrorKind). It is
// written as a JSON object with sorted keys.
type ErrorCounts map[string]int64

// Total is the number of failures of every kind.
func (e ErrorCounts) Total() int64 {
	var n int64
	for _, v := range e {
		n += v
	}
	return n
}

// StageResult is what happened during one stage. Latency events belong to
// the stage holding their intended time, other events to the stage holding
// the time they happened.
type StageResult struct {
	Name      string    `json:"name"`
	StartS    float64   `json:"start_s"`
	EndS      float64   `json:"end_s"`
	Devices   int       `json:"devices"`
	Messages  Messages  `json:"messages"`
	Commands  Commands  `json:"commands"`
	Requests  Requests  `json:"requests"`
	LatencyMS Latencies `json:"latency_ms"`
}

// Series are per-interval counts over the run. T[i] is the end of interval
// i in seconds; interval i holds the events that happened in
// [T[i]-IntervalS, T[i]). Connected is the number of live connections at
// the end of each interval.
type Series struct {
	IntervalS float64 `json:"interval_s"`
	T         []int64 `json:"t"`
	Sent      []int64 `json:"sent"`
	Acked     []int64 `json:"acked"`
	Delivered []int64 `json:"delivered"`
	Connected []int64 `json:"connected"`
	Connects  []int64 `json:"connects"`
	Errors    []int64 `json:"errors"`
}
