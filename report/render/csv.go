package render

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/m2msim/m2msim/report"
)

// latencyFields are the columns written per latency metric, with the
// figure each reads.
var latencyFields = []struct {
	suffix string
	get    func(q report.Quantiles) float64
}{
	{"_p50_ms", func(q report.Quantiles) float64 { return q.P50 }},
	{"_p90_ms", func(q report.Quantiles) float64 { return q.P90 }},
	{"_p99_ms", func(q report.Quantiles) float64 { return q.P99 }},
	{"_max_ms", func(q report.Quantiles) float64 { return q.Max }},
	{"_count", func(q report.Quantiles) float64 { return float64(q.Count) }},
}

var (
	headCols  = []string{"t", "stage", "active", "connecting", "connected", "sleeping", "offline"}
	radioCols = []string{"radio_airtime_s", "radio_deferred", "radio_collisions", "radio_downlink_wait_max_ms"}
	selfCols  = []string{"self_schedule_lag_max_ms", "self_cpu_pct", "self_open_files", "self_open_files_limit"}
)

// CSV writes points as timeseries.csv: a header, then one row per point.
// The columns are t, stage, active and the devices by state; one
// "<name>_per_s" per rate present in any point; per latency metric
// present in any point its p50, p90, p99 and max in ms and its count
// (empty where the interval had no sample); errors, the interval's
// failures of every kind; the radio's figures ("radio_...") when any
// point has them; and the generator's own load ("self_..."). Rates and
// metrics are in name order.
func CSV(w io.Writer, points []report.Point) error {
	rates, metrics, radio := columnsOf(points)
	cw := csv.NewWriter(w)
	cw.Write(csvHeader(rates, metrics, radio))
	for i := range points {
		cw.Write(csvRow(&points[i], rates, metrics, radio))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write timeseries: %w", err)
	}
	return nil
}

// columnsOf lists the rate and latency metric names present in any
// point, sorted, and whether any point has radio figures.
func columnsOf(points []report.Point) (rates, metrics []string, radio bool) {
	r, m := map[string]bool{}, map[string]bool{}
	for i := range points {
		p := &points[i]
		for k := range p.Rates {
			r[k] = true
		}
		for k := range p.Latency {
			m[k] = true
		}
		radio = radio || p.Radio != nil
	}
	return slices.Sorted(maps.Keys(r)), slices.Sorted(maps.Keys(m)), radio
}

func csvHeader(rates, metrics []string, radio bool) []string {
	h := slices.Clone(headCols)
	for _, r := range rates {
		h = append(h, r+"_per_s")
	}
	for _, m := range metrics {
		for _, f := range latencyFields {
			h = append(h, m+f.suffix)
		}
	}
	h = append(h, "errors")
	if radio {
		h = append(h, radioCols...)
	}
	return append(h, selfCols...)
}

func csvRow(p *report.Point, rates, metrics []string, radio bool) []string {
	d := p.Devices
	row := []string{csvFloat(p.T), p.Stage, strconv.Itoa(p.Active), csvInt(d.Connecting), csvInt(d.Connected),
		csvInt(d.Sleeping), csvInt(d.Offline)}
	for _, r := range rates {
		row = append(row, csvOptional(p.Rates[r], hasKey(p.Rates, r)))
	}
	for _, m := range metrics {
		q, ok := p.Latency[m]
		for _, f := range latencyFields {
			row = append(row, csvOptional(f.get(q), ok))
		}
	}
	row = append(row, csvInt(errorTotal(p.Errors)))
	if radio {
		row = append(row, radioCells(p.Radio)...)
	}
	s := p.Self
	return append(row, csvFloat(s.ScheduleLagMS), csvFloat(s.CPUPct), csvInt(s.OpenFiles), csvInt(s.OpenFilesMax))
}

func radioCells(r *report.RadioPoint) []string {
	if r == nil {
		return make([]string, len(radioCols))
	}
	return []string{csvFloat(r.AirtimeS), csvInt(r.Deferred), csvInt(r.Collisions), csvFloat(r.DownlinkWaitMS)}
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func errorTotal(e map[string]int64) int64 {
	var n int64
	for _, v := range e {
		n += v
	}
	return n
}

// csvOptional is v, or an empty cell when absent.
func csvOptional(v float64, present bool) string {
	if !present {
		return ""
	}
	return csvFloat(v)
}

// csvFloat writes v in the shortest form that reads back exactly, without
// an exponent; NaN as an empty cell and infinities as inf and -inf, which
// Go, Python and spreadsheets all read.
func csvFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func csvInt(v int64) string { return strconv.FormatInt(v, 10) }
