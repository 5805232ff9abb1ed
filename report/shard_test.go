package report

import (
	"errors"
	"strings"
	"testing"
)

func TestMergeShardsChecksAndHealth(t *testing.T) {
	_, a, b := mergeParts(t, 0)
	a.Shard = &Shard{Index: 0, Count: 2, CPUS: 1.5}
	b.Shard = &Shard{Index: 1, Count: 2, CPUS: 3, LateByS: 0.25}
	got, err := Merge(b, a)
	if err != nil {
		t.Fatalf("Merge of two shards: %v", err)
	}
	if got.Shard != nil {
		t.Errorf("the merged result says it is shard %+v", got.Shard)
	}
	if len(got.Shards) != 2 || got.Shards[0].Index != 0 || got.Shards[1].LateByS != 0.25 || got.Shards[1].CPUS != 3 {
		t.Fatalf("shards health %+v", got.Shards)
	}
	if got.Shards[0].Errors != a.Errors.Total() || got.Shards[0].ScheduleLagMax != a.LatencyMS.ScheduleLag.Max {
		t.Errorf("shard 0 health %+v, want errors %d", got.Shards[0], a.Errors.Total())
	}
	for _, w := range got.Warnings {
		if strings.Contains(w, "missing") {
			t.Errorf("a complete set warns: %q", w)
		}
	}
	// The merged result's JSON keeps the section through a round trip.
	data, err := MarshalResult(got)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalResult(data)
	if err != nil || len(back.Shards) != 2 {
		t.Fatalf("round trip: %v, %d shards", err, len(back.Shards))
	}

	bad := []struct {
		name   string
		change func(r *Result)
		want   string
	}{
		{"same index", func(r *Result) { r.Shard.Index = 0 }, "both shard 0/2"},
		{"other count", func(r *Result) { r.Shard.Count = 3 }, "a shard of 3"},
		{"other seed", func(r *Result) { r.Seed++ }, "seed"},
		{"other scenario", func(r *Result) { r.Scenario.Name = "other" }, "scenario"},
		{"no shard", func(r *Result) { r.Shard = nil }, "no shard"},
	}
	for _, tt := range bad {
		c := *b
		sh := *b.Shard
		c.Shard = &sh
		tt.change(&c)
		_, err := Merge(a, &c)
		if !errors.Is(err, ErrNotShards) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrNotShards saying %q", tt.name, err, tt.want)
		}
	}

	// Two of three shards merge, with a warning naming the missing one.
	a.Shard.Count, b.Shard.Count = 3, 3
	got, err = Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(got.Warnings, "\n"); !strings.Contains(w, "shard(s) 2 of 3 missing") {
		t.Errorf("warnings %q lack the missing shard", w)
	}
}
