package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/internal/golden"
	"github.com/m2msim/m2msim/report"
)

func TestMarkdownGolden(t *testing.T) {
	for _, f := range fixtures {
		var b bytes.Buffer
		if err := Markdown(&b, f.in()); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "summary"+f.name+".golden.md", b.Bytes())
		if n := strings.Count(b.String(), "\n"); n > 60 {
			t.Errorf("summary%s.md has %d lines, want at most 60 for $GITHUB_STEP_SUMMARY", f.name, n)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) string
		in   string
		want string
	}{
		{"mdCode", mdCode, "a | b", "`a \\| b`"},
		{"mdCode", mdCode, "x `y` z", "``x `y` z``"},
		{"mdCode", mdCode, "`y`", "`` `y` ``"},
		{"mdCell", mdCell, "< 250ms", "< 250ms"},
		{"mdCell", mdCell, "<script>", "&lt;script>"},
		{"mdText", mdText, "lost_unacked *all* [x]", `lost\_unacked \*all\* \[x\]`},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// A result merged from shards lists them in summary.md, the ones that
// fell behind first and marked, and no more than fit a step summary.
func TestMarkdownShards(t *testing.T) {
	in := minimalInput()
	r := *in.Result
	for i := range 12 {
		lag := 1.5
		if i == 9 {
			lag = 40 // more than twice the median, and over a millisecond
		}
		r.Shards = append(r.Shards, report.ShardHealth{Index: i, Devices: 100, ScheduleLagP99: lag, ScheduleLagMax: 2 * lag,
			CPUS: 3.2, Status: report.StatusPassed})
	}
	in.Result = &r
	var b bytes.Buffer
	if err := Markdown(&b, in); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"Merged from 12 shards; shard 9 fell behind",
		"| 9 ✘ behind | 100 | 40 / 80 |",
		"4 more shards, none behind, are in report.html.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	if i, j := strings.Index(md, "\n| 9 ✘"), strings.Index(md, "\n| 0 | 100 |"); i < 0 || j < 0 || i > j {
		t.Errorf("the shard that fell behind is not listed first:\n%s", md)
	}
	if n := strings.Count(md, " | 100 | "); n != mdMaxShards {
		t.Errorf("%d shard rows, want %d", n, mdMaxShards)
	}

	r.Shards[9].ScheduleLagP99 = 1.5
	b.Reset()
	if err := Markdown(&b, in); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "every shard's generator kept up") {
		t.Errorf("summary.md of shards that all kept up:\n%s", b.String())
	}
}
