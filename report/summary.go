package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary writes r for a terminal: the same figures as result.json,
// at a glance. Latency kinds without samples are left out.
func WriteSummary(w io.Writer, r *Result) error {
	var b bytes.Buffer
	summaryHead(&b, r)
	summaryCounts(&b, r)
	summaryLatency(&b, r)
	summaryStages(&b, r)
	summaryThresholds(&b, r)
	summaryWarnings(&b, r)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func summaryHead(b *bytes.Buffer, r *Result) {
	fmt.Fprintf(b, "m2msim %s", r.Scenario.Name)
	if r.Scenario.File != "" {
		fmt.Fprintf(b, " (%s)", r.Scenario.File)
	}
	fmt.Fprintf(b, "  %s\n", strings.ToUpper(string(r.Status)))
	fmt.Fprintf(b, "seed %d, started %s, ran %s", r.Seed, r.Started.Format(time.RFC3339), fmtSeconds(r.ElapsedS))
	if r.PlannedDurationS > 0 {
		fmt.Fprintf(b, " of %s planned", fmtSeconds(r.PlannedDurationS))
	}
	b.WriteString("\n\n")
}

func summaryCounts(b *bytes.Buffer, r *Result) {
	fmt.Fprintf(b, "devices   %s\n", devicesLine(r))
	fmt.Fprintf(b, "messages  %s\n", messagesLine(r.Messages))
	if line := lossLine(r); line != "" {
		fmt.Fprintf(b, "lost      %s\n", line)
	}
	if m := r.Messages; m.Deferred > 0 {
		fmt.Fprintf(b, "radio     %d sends held back by the radio before they went out\n", m.Deferred)
	}
	for _, g := range r.Groups {
		if line := groupLine(g); line != "" && (len(r.Groups) > 1 || g.Radio != GroupRadio{}) {
			fmt.Fprintln(b, line)
		}
	}
	if c := r.Commands; c.Sent+c.Replied > 0 {
		fmt.Fprintf(b, "commands  %d sent, %d replied, %d unanswered\n", c.Sent, c.Replied, c.Unanswered)
	}
	if q := r.Requests; q.Sent+q.Answered > 0 {
		fmt.Fprintf(b, "requests  %d sent, %d answered, %d unanswered\n", q.Sent, q.Answered, q.Unanswered)
	}
	if line := backendLine(r); line != "" {
		fmt.Fprintf(b, "backend   %s\n", line)
	}
	fmt.Fprintf(b, "errors    %s\n", fmtErrors(r.Errors))
	if line := countsLine(r); line != "" {
		fmt.Fprintf(b, "counts    %s\n", line)
	}
}

// countsLine lists the counts protocols named (retransmissions,
// responses by code), by name.
func countsLine(r *Result) string {
	if r.Metrics == nil {
		return ""
	}
	var parts []string
	for _, name := range names(r.Metrics.Counters) {
		if c := r.Metrics.Counters[name]; c != nil && !isKindName(name) && !strings.HasSuffix(name, "_timed") {
			parts = append(parts, fmt.Sprintf("%s %d", name, c.Run))
		}
	}
	return strings.Join(parts, ", ")
}

func devicesLine(r *Result) string {
	d := r.Devices
	success := "no attempt finished"
	if d.Connects+d.ConnectFailures > 0 {
		success = fmtFloat(r.Connect.SuccessPct) + "% success"
	}
	unfinished := ""
	if d.ConnectUnfinished > 0 {
		unfinished = fmt.Sprintf(", %d unfinished", d.ConnectUnfinished)
	}
	return fmt.Sprintf("%d planned, %d connected at most; %d connects, %d failed (%s)%s, %d disconnects, %d reconnects, %d closed",
		d.Planned, d.ConnectedMax, d.Connects, d.ConnectFailures, success, unfinished, d.Disconnects, d.Reconnects, d.Closed)
}

func messagesLine(m Messages) string {
	sent := fmt.Sprintf("%d sent", m.Sent)
	if m.Timed != m.Sent {
		sent += fmt.Sprintf(" (%d timed end to end)", m.Timed)
	}
	unacked := ""
	if m.Unacked > 0 {
		unacked = fmt.Sprintf(", %d unacked", m.Unacked)
	}
	return fmt.Sprintf("%s, %d acked%s, %d received, %d duplicates, %d publish failures",
		sent, m.Acked, unacked, m.Received, m.Duplicates, m.PublishFailures)
}

// fmtErrors lists error kinds, most frequent first.
func fmtErrors(e ErrorCounts) string {
	kinds := make([]string, 0, len(e))
	for k, n := range e {
		if n > 0 {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return "none"
	}
	slices.SortFunc(kinds, func(a, b string) int {
		return cmp.Or(cmp.Compare(e[b], e[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, e[k])
	}
	return fmt.Sprintf("%d (%s)", e.Total(), strings.Join(parts, ", "))
}

var latencyLabels = [...]string{"connect", "ack", "e2e", "command", "request", "schedule lag", "backend lag"}

func summaryLatency(b *bytes.Buffer, r *Result) {
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	w := len("schedule lag")
	for _, name := range namedLatencies(r) {
		w = max(w, len(name)) // every label padded alike: the column is right-aligned
	}
	fmt.Fprintf(tw, "%-*s\tcount\tmissing\tp50\tp90\tp99\tp99.9\tmax\tmean\t\n", w, "latency ms")
	rows, beyond := 0, false
	for i, name := range latencyLabels {
		s := r.LatencyMS.byIndex(i)
		if s.Count+s.Missing == 0 {
			continue
		}
		rows++
		beyond = beyond || s.P50.Beyond || s.P90.Beyond || s.P99.Beyond || s.P999.Beyond
		maxMS, mean := "-", "-"
		if s.Count > 0 {
			maxMS, mean = fmt.Sprintf("%.3f", s.Max), fmt.Sprintf("%.3f", s.Mean)
		}
		fmt.Fprintf(tw, "%-*s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", w, name, s.Count, missingCell(i, *s),
			fmtJudged(s.P50), fmtJudged(s.P90), fmtJudged(s.P99), fmtJudged(s.P999), maxMS, mean)
	}
	for _, name := range namedLatencies(r) {
		a, err := r.Metrics.Latency[name].Run.decode(histDigits)
		if err != nil || a.h.TotalCount() == 0 {
			continue
		}
		rows++
		s := a.stats(0)
		fmt.Fprintf(tw, "%-*s\t%d\t-\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t\n", w, name, s.Count,
			fmtJudged(s.P50), fmtJudged(s.P90), fmtJudged(s.P99), fmtJudged(s.P999), s.Max, s.Mean)
	}
	if rows == 0 {
		fmt.Fprintln(tw, "(no samples)\t\t\t\t\t\t\t\t\t")
	}
	tw.Flush()
	if beyond {
		b.WriteString("  > all: the percentile falls among the flows that never finished (lost, unacknowledged, unanswered, failed),\n" +
			"         which count as slower than any that did\n")
	}
}

// namedLatencies are the names of the latencies protocols added to r,
// sorted.
func namedLatencies(r *Result) []string {
	if r.Metrics == nil {
		return nil
	}
	var out []string
	for _, name := range names(r.Metrics.Latency) {
		if !slices.Contains(latencyNames[:], name) {
			out = append(out, name)
		}
	}
	return out
}

// missingCell writes the flows of latency kind i that never finished, with
// their share; lags have none to miss.
func missingCell(i int, s LatencyStats) string {
	switch {
	case i == latLag || i == latBackend:
		return "-"
	case s.Missing == 0:
		return "0"
	}
	return fmt.Sprintf("%d (%s%%)", s.Missing, fmtFloat(round3(s.MissingPct())))
}

// fmtJudged writes a percentile in ms, or "> all" beyond every finished
// flow.
func fmtJudged(j Judged) string {
	if j.Beyond {
		return "> all"
	}
	return strconv.FormatFloat(j.V, 'f', 3, 64)
}

func summaryStages(b *bytes.Buffer, r *Result) {
	if len(r.Stages) == 0 {
		return
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	w := len("stage")
	for _, s := range r.Stages {
		w = max(w, len(s.Name))
	}
	// Optional columns: timed when only a sample was timed, unanswered
	// when there were exchanges.
	sampled := r.Messages.Timed != r.Messages.Sent
	exchanges := r.Commands.Sent+r.Requests.Sent > 0
	// Padding the names to one width left-aligns them in a right-aligned
	// table.
	fmt.Fprintf(tw, "%-*s\tfrom\tto\tdevices\tsent\t%sreceived\tlost\tloss %%\t%sack p99\te2e p99\t\n", w, "stage",
		optional(sampled, "timed\t"), optional(exchanges, "unanswered\t"))
	for _, s := range r.Stages {
		m := s.Messages
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%d\t%d\t%s%d\t%d\t%s\t%s%s\t%s\t\n", w, s.Name,
			fmtSeconds(s.StartS), fmtSeconds(s.EndS), s.Devices, m.Sent, optional(sampled, fmt.Sprintf("%d\t", m.Timed)),
			m.Received, m.Lost, fmtFloat(m.LossPct),
			optional(exchanges, fmt.Sprintf("%d\t", s.Commands.Unanswered+s.Requests.Unanswered)),
			fmtP99(s.LatencyMS.Ack), fmtP99(s.LatencyMS.E2E))
	}
	tw.Flush()
}

// optional is s when on, else empty.
func optional(on bool, s string) string {
	if on {
		return s
	}
	return ""
}

func fmtP99(s LatencyStats) string {
	if s.Count+s.Missing == 0 {
		return "-"
	}
	return fmtJudged(s.P99)
}

func summaryThresholds(b *bytes.Buffer, r *Result) {
	if len(r.Thresholds) == 0 {
		return
	}
	b.WriteString("\nthresholds\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, t := range r.Thresholds {
		verdict, detail := "PASS", "actual "+fmtFloat(t.Actual.V)
		switch {
		case !t.Passed:
			verdict, detail = "FAIL", t.Reason
		case t.Actual.Beyond:
			detail = "actual > all"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", verdict, t.Expr, detail)
	}
	tw.Flush()
}

func summaryWarnings(b *bytes.Buffer, r *Result) {
	if len(r.Warnings) == 0 {
		return
	}
	b.WriteString("\nwarnings\n")
	for _, w := range r.Warnings {
		fmt.Fprintf(b, "  ! %s\n", w)
	}
}

// fmtSeconds writes seconds as a short duration: 30s, 1m30s, 2.5s.
func fmtSeconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// fmtMillis prints a duration in milliseconds as a Go duration, to the
// millisecond ("41.852s").
func fmtMillis(ms float64) string { return fmtSeconds(ms / 1000) }

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// groupLine summarises one group: its messages, its unanswered exchanges
// and, when its radio did anything, the radio's figures.
func groupLine(g GroupResult) string {
	m, r := g.Messages, g.Radio
	timed := ""
	if g.TimedDevices != g.Devices {
		timed = fmt.Sprintf(" (%d timed)", g.TimedDevices)
	}
	proto := ""
	if g.Protocol != "" && g.Protocol != "mqtt" {
		proto = " " + g.Protocol
	}
	delivery := fmt.Sprintf("%d received, %d lost (%s%%)", m.Received, m.Lost, fmtFloat(m.LossPct))
	if g.TimedDevices == 0 {
		delivery = fmt.Sprintf("%d acked, %d unacked", m.Acked, m.Unacked) // nothing timed: loss unknown
	}
	line := fmt.Sprintf("group %-10s %d%s devices%s: %d sent, %s, %d deferred, %d failed",
		g.Name, g.Devices, proto, timed, m.Sent, delivery, m.Deferred, m.PublishFailures)
	if c := g.Commands; c.Unanswered > 0 {
		line += fmt.Sprintf("; %d of %d commands unanswered", c.Unanswered, c.Sent)
	}
	if q := g.Requests; q.Unanswered > 0 {
		line += fmt.Sprintf("; %d of %d requests unanswered", q.Unanswered, q.Sent)
	}
	if r.Frames > 0 {
		line += fmt.Sprintf("; %d frames (%d collided), %s on air", r.Frames, r.Collisions, fmtSeconds(r.AirtimeS))
	}
	if r.QueueAgeMS.Count > 0 {
		line += fmt.Sprintf("; held %s mean, %s max", fmtMillis(r.QueueAgeMS.Mean), fmtMillis(r.QueueAgeMS.Max))
	}
	if r.DownlinkWaitMS.Count > 0 {
		line += fmt.Sprintf("; commands waited %s mean, %s max", fmtMillis(r.DownlinkWaitMS.Mean), fmtMillis(r.DownlinkWaitMS.Max))
	}
	if r.Wakes > 0 {
		line += fmt.Sprintf("; %d wakes, %s asleep", r.Wakes, fmtSeconds(r.AsleepS))
	}
	if p := r.PromotionsMS; p.Count > 0 {
		line += fmt.Sprintf("; %d radio promotions, %s mean", p.Count, fmtMillis(p.Mean))
	}
	return line
}
