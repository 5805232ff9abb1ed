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
	Status         report.Status
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
			Status: h.Status, Hot: h.ScheduleLagP99 > 1 && h.ScheduleLagP99 > 2*median})
	}
	return rows
}
