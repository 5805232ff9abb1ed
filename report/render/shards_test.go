package render

import (
	"strings"
	"testing"

	"github.com/m2msim/m2msim/report"
)

func TestHTMLShardsTableMarksAnOverloadedShard(t *testing.T) {
	in := fixtureInput()
	r := *in.Result
	r.Shards = []report.ShardHealth{
		{Index: 0, Devices: 250, ScheduleLagP99: 1.2, ScheduleLagMax: 9, CPUS: 3.5, Status: report.StatusFailed},
		{Index: 1, Devices: 250, ScheduleLagP99: 48, ScheduleLagMax: 310, CPUS: 7.9, Errors: 12, LateByS: 2.5, Status: report.StatusPassed},
		{Index: 2, Devices: 250, ScheduleLagP99: 1.4, ScheduleLagMax: 11, CPUS: 3.6, Status: report.StatusInterrupted},
	}
	in.Result = &r
	_, doc := renderHTML(t, in)
	sec := byID(doc, "shards")
	if sec == nil {
		t.Fatal("no shards section")
	}
	rows := all(sec, "tr")
	if len(rows) != 4 {
		t.Fatalf("shards table has %d rows, want a header and 3", len(rows))
	}
	for i, row := range rows[1:] {
		hot := false
		for _, a := range row.Attr {
			hot = hot || a.Key == "class" && a.Val == "bad"
		}
		if hot != (i == 1) {
			t.Errorf("shard %d marked overloaded = %v: %s", i, hot, textOf(row))
		}
	}
	for _, want := range []string{"2.5s late", "ran to the end", "interrupted", "7.9 s"} {
		if !strings.Contains(textOf(sec), want) {
			t.Errorf("shards section lacks %q: %s", want, textOf(sec))
		}
	}
	in.Result.Shards = nil
	if _, doc := renderHTML(t, in); byID(doc, "shards") != nil {
		t.Error("a result without shards shows the section")
	}
}
