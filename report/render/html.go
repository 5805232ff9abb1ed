package render

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"

	"github.com/m2msim/m2msim/report"
)

//go:embed report.html.tmpl
var pageText string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num": num, "pct": pct, "seconds": seconds, "sig3": sig3, "judged": judged, "p99": p99Cell,
	"sampled": func(s report.Sample) string {
		return fmt.Sprintf("%d of %d devices (%s)", s.Devices, s.Fleet, pct(100*s.Fraction))
	},
}).Parse(pageText))

// page is what report.html shows, formatted.
type page struct {
	R           *report.Result
	StatusClass string
	StatusWords string
	Started     string
	Elapsed     string
	Command     string
	Verdicts    []verdict
	Capacity    *capacityView
	Figures     []figure
	Latency     []latencyRow
	Beyond      bool
	Errors      []kindCount
	Stages      []stageRow
	Sampled     bool
	GroupRadio  []groupRadioRow
	GroupCounts []groupCountRow
	Shards      []shardRow
}

// capacityView is the capacity section.
type capacityView struct {
	Metric     string
	Headline   string
	Sentences  []string
	Rows       []capacityRow
	Latency    figure
	Throughput figure
	USL        []string
	Limiter    string
}

// HTML writes in as report.html: one self-contained page that opens
// offline, with its plots inline as SVG. It shows the run's header and
// warnings, the thresholds' verdict, the capacity found (when in has a
// Capacity), charts over time from in.Points, the run's totals and the
// figures per stage and per group. Degenerate input (no points, NaN or
// infinite figures) renders; a chart gonum cannot draw is replaced by a
// note.
func HTML(w io.Writer, in Input) error {
	if in.Result == nil {
		return fmt.Errorf("html: %w", errNoResult)
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, newPage(in)); err != nil {
		return fmt.Errorf("render report.html: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write report.html: %w", err)
	}
	return nil
}

func newPage(in Input) *page {
	r := in.Result
	p := &page{
		R: r, StatusClass: statusClass(r.Status), StatusWords: statusWords(r.Status),
		Started: started(r), Elapsed: elapsed(r), Command: in.Command,
		Verdicts: verdicts(r), Capacity: newCapacityView(in.Capacity),
		Figures: overTime(newTimeline(in.Points, r.Stages).withRestarts(r)),
		Latency: latencyRows(r), Errors: errorKinds(r.Errors),
		Stages: stageRows(r), Sampled: r.Messages.Timed != r.Messages.Sent,
		GroupRadio: groupRadioRows(r.Groups), GroupCounts: groupCountRows(r.Groups),
		Shards: shardRows(r.Shards),
	}
	for _, l := range p.Latency {
		p.Beyond = p.Beyond || l.Beyond
	}
	return p
}

func newCapacityView(c *Capacity) *capacityView {
	if c == nil {
		return nil
	}
	v := &capacityView{Metric: metricLabel(c.Metric), Rows: capacityRows(c),
		Latency: capacityLatencyChart(c), Throughput: capacityThroughputChart(c),
		USL: uslWords(c.USL, largestLoad(c)), Limiter: limiterWords(c)}
	if len(c.Sentences) > 0 {
		v.Headline = c.Sentences[0]
	}
	for _, s := range c.Sentences[min(1, len(c.Sentences)):] {
		if v.Limiter == "" || limiterWhy(s) != limiterWhy(c.LimiterReason) {
			v.Sentences = append(v.Sentences, s) // the limiter has its own paragraph
		}
	}
	return v
}

// statusClass is the CSS class that colours a status.
func statusClass(s report.Status) string {
	switch s {
	case report.StatusPassed:
		return "pass"
	case report.StatusFailed:
		return "fail"
	}
	return "cut"
}
