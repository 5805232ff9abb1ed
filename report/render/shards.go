package render

import (
	"fmt"
	"slices"

	"github.com/m2msim/m2msim/report"
)

// shardRow is one shard's health in the report's shards table.
type shardRow struct {
	Index, Devices int
	LagP99, LagMax string
	CPU            string
	Errors         int64
	Late           string
	// Run says how the shard's run ended: its own thresholds do not
	// matter, the whole's are judged.
	Run string
	// Hot marks a shard whose schedule lag p99 is more than twice the
	// shards' median and over a millisecond: its generator fell behind.
	Hot bool
}

// shardRows lays out a merged result's shards, marking overloaded ones.
func shardRows(hs []report.ShardHealth) []shardRow {
	if len(hs) == 0 {
		return nil
	}
	lags := make([]float64, len(hs))
	for i, h := range hs {
		lags[i] = h.ScheduleLagP99
	}
	slices.Sort(lags)
	median := lags[len(lags)/2]
	var rows []shardRow
	for _, h := range hs {
		late := "on time"
		if h.LateByS > 0.05 {
			late = seconds(h.LateByS) + " late"
		}
		rows = append(rows, shardRow{Index: h.Index, Devices: h.Devices, LagP99: num(h.ScheduleLagP99),
			LagMax: num(h.ScheduleLagMax), CPU: fmt.Sprintf("%.1f s", h.CPUS), Errors: h.Errors, Late: late,
			Run: runWords(h.Status), Hot: h.ScheduleLagP99 > 1 && h.ScheduleLagP99 > 2*median})
	}
	return rows
}

// runWords says how a shard's run ended.
func runWords(s report.Status) string {
	switch s {
	case report.StatusInterrupted, report.StatusAborted:
		return string(s)
	}
	return "ran to the end"
}
