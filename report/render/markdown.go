package render

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/m2msim/m2msim/report"
)

// Markdown writes in as summary.md, GitHub-flavoured Markdown that fits
// $GITHUB_STEP_SUMMARY: the status, the capacity findings, the
// thresholds, the key totals and latencies, the warnings and the command
// that repeats the run.
func Markdown(w io.Writer, in Input) error {
	r := in.Result
	if r == nil {
		return fmt.Errorf("markdown: %w", errNoResult)
	}
	var b bytes.Buffer
	mdHead(&b, r)
	mdCapacity(&b, in.Capacity)
	mdThresholds(&b, r)
	mdTotals(&b, r)
	mdShards(&b, r)
	mdLatency(&b, r)
	mdWarnings(&b, r)
	mdCommand(&b, in.Command)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write summary.md: %w", err)
	}
	return nil
}

// statusWords is a run's status as a marker and a word, for text that
// has no colour.
func statusWords(s report.Status) string {
	switch s {
	case report.StatusPassed:
		return "✔ PASSED"
	case report.StatusFailed:
		return "✘ FAILED"
	}
	return "✘ " + strings.ToUpper(string(s))
}

func mdHead(b *bytes.Buffer, r *report.Result) {
	fmt.Fprintf(b, "## **%s** m2msim %s\n\n", statusWords(r.Status), mdText(r.Scenario.Name))
	file := ""
	if r.Scenario.File != "" {
		file = " · " + mdCode(r.Scenario.File)
	}
	fmt.Fprintf(b, "seed %d%s · started %s · ran %s\n", r.Seed, file, started(r), elapsed(r))
}

func mdCapacity(b *bytes.Buffer, c *Capacity) {
	if c == nil || len(c.Sentences) == 0 {
		return
	}
	fmt.Fprintf(b, "\n**%s**\n", mdText(c.Sentences[0]))
	if len(c.Sentences) > 1 {
		b.WriteString("\n")
		for _, s := range c.Sentences[1:] {
			fmt.Fprintf(b, "- %s\n", mdText(s))
		}
	}
}

func mdThresholds(b *bytes.Buffer, r *report.Result) {
	if len(r.Thresholds) == 0 {
		b.WriteString("\nNo thresholds were set.\n")
		return
	}
	b.WriteString("\n| | threshold | measured | limit |\n|---|---|---:|---|\n")
	for _, v := range verdicts(r) {
		mark := "✔"
		if !v.Passed {
			mark = "✘ **FAIL**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", mark, mdCode(v.Expr), mdCell(v.Measured), mdCode(v.Limit))
	}
}

func mdTotals(b *bytes.Buffer, r *report.Result) {
	m, d := r.Messages, r.Devices
	b.WriteString("\n| devices | connects | connect failures | sent | received | lost | loss | errors |\n" +
		"|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %d | %d | %d | %d | %d | %d | %s | %d |\n",
		d.Planned, d.Connects, d.ConnectFailures, m.Sent, m.Received, m.Lost, pct(m.LossPct), r.Errors.Total())
	if m.Lost > 0 {
		fmt.Fprintf(b, "\nLost: %d never acknowledged, %d acknowledged but not delivered, %d unconfirmed (QoS 0).\n",
			m.LostUnacked, m.LostAfterAck, m.LostUnconfirmed)
	}
	if kinds := errorKinds(r.Errors); len(kinds) > 0 {
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", mdCode(k.Kind), k.Count)
		}
		fmt.Fprintf(b, "\nErrors: %s.\n", strings.Join(parts, ", "))
	}
}

// mdMaxShards is how many shards summary.md lists, the ones that fell
// behind first, so that a wide run stays within a step summary's length.
const mdMaxShards = 8

// mdShards says, for a result merged from shards, whether each shard's
// generator kept up, as report.html's shards table does.
func mdShards(b *bytes.Buffer, r *report.Result) {
	rows := shardRows(r.Shards)
	if len(rows) == 0 {
		return
	}
	var behind []string
	for _, s := range rows {
		if s.Hot {
			behind = append(behind, fmt.Sprint(s.Index))
		}
	}
	switch {
	case len(behind) == 0:
		fmt.Fprintf(b, "\nMerged from %d shards; every shard's generator kept up.\n", len(rows))
	default:
		fmt.Fprintf(b, "\nMerged from %d shards; shard %s fell behind (schedule lag p99 over twice the shards' median): "+
			"there the generator, not the server, set the pace.\n", len(rows), strings.Join(behind, ", "))
	}
	slices.SortStableFunc(rows, func(a, c shardRow) int {
		switch {
		case a.Hot == c.Hot:
			return 0
		case a.Hot:
			return -1
		}
		return 1
	})
	b.WriteString("\n| shard | devices | schedule lag p99 / max ms | CPU | errors | start | run |\n" +
		"|---:|---:|---:|---:|---:|---|---|\n")
	for _, s := range rows[:min(len(rows), mdMaxShards)] {
		mark := ""
		if s.Hot {
			mark = " ✘ behind"
		}
		fmt.Fprintf(b, "| %d%s | %d | %s / %s | %s | %d | %s | %s |\n",
			s.Index, mark, s.Devices, mdCell(s.LagP99), mdCell(s.LagMax), s.CPU, s.Errors, s.Late, s.Run)
	}
	if n := len(rows) - mdMaxShards; n > 0 {
		fmt.Fprintf(b, "\n%d more shards, none behind, are in report.html.\n", n)
	}
}

func mdLatency(b *bytes.Buffer, r *report.Result) {
	rows := latencyRows(r)
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n| latency ms | count | missing | p50 | p90 | p99 | p99.9 | max |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range rows {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s |\n",
			l.Name, l.Count, mdCell(l.Missing), mdCell(l.P50), mdCell(l.P90), mdCell(l.P99), mdCell(l.P999), l.Max)
	}
}

func mdWarnings(b *bytes.Buffer, r *report.Result) {
	if len(r.Warnings) == 0 {
		return
	}
	b.WriteString("\n> [!WARNING]\n")
	for i, w := range r.Warnings {
		if i > 0 {
			b.WriteString(">\n")
		}
		fmt.Fprintf(b, "> %s\n", mdText(w))
	}
}

func mdCommand(b *bytes.Buffer, cmd string) {
	if cmd == "" {
		return
	}
	fence := "```"
	for strings.Contains(cmd, fence) {
		fence += "`"
	}
	fmt.Fprintf(b, "\nRepeat the run:\n\n%ssh\n%s\n%s\n", fence, cmd, fence)
}

// mdEscaper escapes what Markdown would read as markup or a table's
// column break.
var mdEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
	"<", "&lt;", "|", `\|`, "\n", " ")

// mdText is s as literal Markdown text on one line.
func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCell is s as a table cell: column breaks and line breaks are
// escaped, and a "<" that could open an HTML tag.
func mdCell(s string) string {
	s = strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
	var b strings.Builder
	for i := range len(s) {
		if s[i] == '<' && i+1 < len(s) && tagStart(s[i+1]) {
			b.WriteString("&lt;")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tagStart reports whether c after "<" would start an HTML tag.
func tagStart(c byte) bool {
	return c == '/' || c == '!' || c == '?' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// mdCode is s as inline code, safe in a table cell.
func mdCode(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", `\|`)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
