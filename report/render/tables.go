package render

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/m2msim/m2msim/report"
)

// latencyKinds are the latency distributions of a Result, in the order
// of report.Latencies, by the metric name a Point uses.
var latencyKinds = []struct {
	name, label string
	get         func(l *report.Latencies) report.LatencyStats
}{
	{"connect", "connect", func(l *report.Latencies) report.LatencyStats { return l.Connect }},
	{"ack", "ack", func(l *report.Latencies) report.LatencyStats { return l.Ack }},
	{"e2e", "e2e", func(l *report.Latencies) report.LatencyStats { return l.E2E }},
	{"command", "command", func(l *report.Latencies) report.LatencyStats { return l.Command }},
	{"request", "request", func(l *report.Latencies) report.LatencyStats { return l.Request }},
	{"schedule_lag", "schedule lag", func(l *report.Latencies) report.LatencyStats { return l.ScheduleLag }},
	{"backend_lag", "backend lag", func(l *report.Latencies) report.LatencyStats { return l.BackendLag }},
}

// latencyRow is one latency distribution of the whole run, in words.
type latencyRow struct {
	Name                string
	Count               int64
	Missing             string
	P50, P90, P99, P999 string
	Max, Mean           string
	Beyond              bool
}

// latencyRows lists the run's latency distributions that had any flow.
func latencyRows(r *report.Result) []latencyRow {
	var out []latencyRow
	for _, k := range latencyKinds {
		s := k.get(&r.LatencyMS)
		if s.Count+s.Missing == 0 {
			continue
		}
		row := latencyRow{Name: k.label, Count: s.Count, Missing: missingCell(k.name, s),
			P50: judged(s.P50), P90: judged(s.P90), P99: judged(s.P99), P999: judged(s.P999), Max: "-", Mean: "-",
			Beyond: s.P50.Beyond || s.P90.Beyond || s.P99.Beyond || s.P999.Beyond}
		if s.Count > 0 {
			row.Max, row.Mean = fixed3(s.Max), fixed3(s.Mean)
		}
		out = append(out, row)
	}
	return out
}

// missingCell writes the flows that never finished, with their share;
// lags have none to miss.
func missingCell(kind string, s report.LatencyStats) string {
	switch {
	case kind == "schedule_lag" || kind == "backend_lag":
		return "-"
	case s.Missing == 0:
		return "0"
	}
	return fmt.Sprintf("%d (%s)", s.Missing, pct(s.MissingPct()))
}

// stageRow is one stage's figures in words.
type stageRow struct {
	Name, From, To              string
	Devices                     int
	Sent, Timed, Received, Lost int64
	Loss                        string
	Unanswered                  int64
	AckP99, E2EP99              string
}

func stageRows(r *report.Result) []stageRow {
	out := make([]stageRow, len(r.Stages))
	for i, s := range r.Stages {
		m := s.Messages
		out[i] = stageRow{Name: s.Name, From: seconds(s.StartS), To: seconds(s.EndS), Devices: s.Devices,
			Sent: m.Sent, Timed: m.Timed, Received: m.Received, Lost: m.Lost, Loss: pct(m.LossPct),
			Unanswered: s.Commands.Unanswered + s.Requests.Unanswered,
			AckP99:     p99Cell(s.LatencyMS.Ack), E2EP99: p99Cell(s.LatencyMS.E2E)}
	}
	return out
}

func p99Cell(s report.LatencyStats) string {
	if s.Count+s.Missing == 0 {
		return "-"
	}
	return judged(s.P99)
}

// groupRadioRow is one group's radio figures in words.
type groupRadioRow struct {
	Name               string
	Frames, Collisions int64
	Airtime            string
	QueueAge, Downlink string
	Wakes              int64
	Asleep, Promotions string
}

// groupRadioRows lists the groups whose radio did anything.
func groupRadioRows(gs []report.GroupResult) []groupRadioRow {
	var out []groupRadioRow
	for _, g := range gs {
		r := g.Radio
		if r == (report.GroupRadio{}) {
			continue
		}
		out = append(out, groupRadioRow{Name: g.Name, Frames: r.Frames, Collisions: r.Collisions,
			Airtime: seconds(r.AirtimeS), QueueAge: spread(r.QueueAgeMS), Downlink: spread(r.DownlinkWaitMS),
			Wakes: r.Wakes, Asleep: seconds(r.AsleepS), Promotions: spread(r.PromotionsMS)})
	}
	return out
}

// spread writes durations in ms as "n, mean m, max x"; "-" without any.
func spread(s report.Spread) string {
	if s.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%d, mean %s, max %s", s.Count, seconds(s.Mean/1000), seconds(s.Max/1000))
}

// groupCountRow lists what a group's protocol counted by name.
type groupCountRow struct {
	Name, Counts string
}

// groupCountRows gives each group whose protocol counted anything a row:
// its counts by name, in name order.
func groupCountRows(gs []report.GroupResult) []groupCountRow {
	var out []groupCountRow
	for _, g := range gs {
		if len(g.Counts) == 0 {
			continue
		}
		parts := make([]string, 0, len(g.Counts))
		for _, name := range slices.Sorted(maps.Keys(g.Counts)) {
			parts = append(parts, fmt.Sprintf("%s %d", name, g.Counts[name]))
		}
		out = append(out, groupCountRow{Name: g.Name, Counts: strings.Join(parts, ", ")})
	}
	return out
}
