package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/report/render"
)

const reportHelp = `Usage:
  m2msim report RESULT.json [--out DIR]
  m2msim report compare BASE.json NEW.json [--tolerance PCT] [--floor D] [--loss PTS]
  m2msim report merge A.json B.json... --out DIR

report re-renders report.html, junit.xml, summary.md and timeseries.csv
from a result file, with no run: into DIR, or beside the result.

compare sets two results side by side: latency percentiles, message loss,
error rate and connect success. It exits 1 when NEW regressed beyond the
tolerance, 0 otherwise, so a CI job can fail on a slower build.
  --tolerance PCT  a percentile may grow this much [10%]
  --floor D        ...but growth under D never counts [1ms]
  --loss PTS       loss and error rates may grow this many points [0.1]

merge combines results of parts of one run (shards started together):
histograms merge exactly, counts add, intervals align on the parts' start
times, and the thresholds are judged again on the whole. It writes
DIR/result.json and the reports. Shards of a sharded run (m2msim run
--shard I/N) must be of the same scenario, seed and N with distinct
indices; a missing shard is warned of. The merged report shows each
shard's health (schedule lag, CPU, errors, late start).

Examples:
  m2msim report out/knee-ramp/result.json --out /tmp/knee
  m2msim report compare baseline/result.json out/nightly/result.json
  m2msim report merge shard-0/result.json shard-1/result.json --out merged

Exit codes: 0 done (compare: no regression), 1 compare found a
regression or the merged result fails a threshold, 2 bad input or usage.
`

func reportCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return compareCmd(args[1:], stdout)
		case "merge":
			return mergeCmd(args[1:], stdout, stderr)
		}
	}
	var out string
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Var(pathValue{&out}, "out", "DIR")
	pos, help, err := parseReportFlags(fs, args, stdout)
	switch {
	case help || err != nil:
		return err
	case len(pos) != 1:
		return usageErr("report: want one RESULT.json, got %d arguments (see: m2msim help report)", len(pos))
	}
	r, err := report.ReadJSON(pos[0])
	if err != nil {
		return usageErr("report: %v", err)
	}
	if out == "" {
		out = filepath.Dir(pos[0])
	}
	return renderInto(out, r, "", stdout, stderr)
}

// parseReportFlags parses a report command's flags: it prints the help
// and says so for --help, and words a bad flag as a usage error.
func parseReportFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (pos []string, help bool, err error) {
	pos, err = parseFlags(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, reportHelp)
		return nil, true, nil
	case err != nil:
		return nil, false, usageErr("%s: %v", fs.Name(), err)
	}
	return pos, false, nil
}

// renderInto writes the reports of r into dir and names the HTML one.
func renderInto(dir string, r *report.Result, command string, stdout, stderr io.Writer) error {
	in, err := render.Prepare(r, command)
	if err != nil {
		fmt.Fprintf(stderr, "m2msim: %v; the reports leave out the charts over time\n", err)
		in = render.Input{Result: r, Command: command}
	}
	if r.Metrics == nil {
		fmt.Fprintln(stderr, "m2msim: this result has no metrics section (a v1 file): the reports leave out the charts over time")
	}
	paths, err := render.WriteAll(dir, in)
	if err != nil {
		return usageErr("report: %v", err)
	}
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return nil
}

func compareCmd(args []string, stdout io.Writer) error {
	var tol report.Tolerance
	fs := flag.NewFlagSet("report compare", flag.ContinueOnError)
	fs.Var(percentValue{&tol.LatencyPct}, "tolerance", "PCT")
	fs.Var(msValue{&tol.LatencyFloorMS}, "floor", "D")
	fs.Var(percentValue{&tol.LossPts}, "loss", "PTS")
	pos, help, err := parseReportFlags(fs, args, stdout)
	switch {
	case help || err != nil:
		return err
	case len(pos) != 2:
		return usageErr("report compare: want BASE.json and NEW.json, got %d arguments", len(pos))
	}
	base, err := report.ReadJSON(pos[0])
	if err != nil {
		return usageErr("report compare: %v", err)
	}
	next, err := report.ReadJSON(pos[1])
	if err != nil {
		return usageErr("report compare: %v", err)
	}
	diffs := report.Compare(base, next, tol)
	n := writeComparison(stdout, diffs)
	if n > 0 {
		return &exitError{code: exitThreshold, err: fmt.Errorf("%d figure(s) regressed beyond the tolerance", n)}
	}
	fmt.Fprintln(stdout, "no regression")
	return nil
}

// writeComparison prints the differences as a table and returns how many
// regressed.
func writeComparison(w io.Writer, diffs []report.Difference) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tbase\tnew\tchange\t")
	n := 0
	for _, d := range diffs {
		mark := ""
		if d.Regressed {
			mark, n = "REGRESSED", n+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Metric, d.FormatValue(d.Base), d.FormatValue(d.New), change(d), mark)
	}
	tw.Flush()
	return n
}

// change writes how a figure moved: in percent for latencies, in points
// for rates.
func change(d report.Difference) string {
	switch {
	case d.Unit == "%":
		return strconv.FormatFloat(d.New-d.Base, 'f', 3, 64) + " pts"
	case d.Base == 0 || d.Base != d.Base || d.New-d.Base > 1e300:
		return "-"
	}
	return strconv.FormatFloat(100*(d.New-d.Base)/d.Base, 'f', 1, 64) + "%"
}

func mergeCmd(args []string, stdout, stderr io.Writer) error {
	var out string
	fs := flag.NewFlagSet("report merge", flag.ContinueOnError)
	fs.Var(pathValue{&out}, "out", "DIR")
	pos, help, err := parseReportFlags(fs, args, stdout)
	switch {
	case help || err != nil:
		return err
	case len(pos) < 2:
		return usageErr("report merge: want at least two results, got %d", len(pos))
	case out == "":
		return usageErr("report merge: --out DIR is required")
	}
	var parts []*report.Result
	for _, p := range pos {
		r, err := report.ReadJSON(p)
		if err != nil {
			return usageErr("report merge: %v", err)
		}
		parts = append(parts, r)
	}
	whole, err := report.Merge(parts...)
	if err != nil {
		return usageErr("report merge: %v", err)
	}
	if err := checkOut(out); err != nil {
		return usageErr("report merge: cannot write to --out %s: %v", out, err)
	}
	path, err := saveResult(out, whole)
	if err != nil {
		return usageErr("report merge: %v", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d parts, status %s)\n", path, len(parts), whole.Status)
	for _, w := range whole.Warnings {
		if strings.HasPrefix(w, "shard(s) ") {
			fmt.Fprintf(stderr, "m2msim: warning: %s\n", w)
		}
	}
	if err := renderInto(out, whole, "m2msim report merge "+strings.Join(pos, " ")+" --out "+out, stdout, stderr); err != nil {
		return err
	}
	if whole.Status == report.StatusFailed {
		return &exitError{code: exitThreshold, err: errors.New("threshold failed on the merged result")}
	}
	return nil
}

// percentValue parses "10", "10%" or "0.1" into a float.
type percentValue struct{ p *float64 }

func (v percentValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v percentValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || f <= 0 || f != f || f > 1e6 {
		return fmt.Errorf("%q is not a positive number (e.g. 10 or 10%%)", s)
	}
	*v.p = f
	return nil
}

// msValue parses a duration into milliseconds.
type msValue struct{ p *float64 }

func (v msValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64) + "ms"
}

func (v msValue) Set(s string) error {
	var d time.Duration
	if err := (durationValue{d: &d}).Set(s); err != nil {
		return err
	}
	*v.p = float64(d) / float64(time.Millisecond)
	return nil
}
