package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/m2msim/m2msim/sim"
)

// Snapshot is a live view of a run in progress. Totals and E2EP99 cover
// the run so far; the per-second rates cover the last full second.
type Snapshot struct {
	Elapsed        time.Duration
	Devices        int   // planned fleet size
	Connected      int64 // live connections now
	ConnectedMax   int64
	Sent           int64
	Acked          int64
	Received       int64
	Errors         int64
	SentPerSec     int64
	AckedPerSec    int64
	ReceivedPerSec int64
	// E2ECount is the number of end-to-end samples behind E2EP99.
	E2ECount int64
	E2EP99   time.Duration
}

// Snapshot returns the run's figures so far. It is safe to call while
// events are recorded; it costs a merge of the end-to-end histograms, so
// call it about once a second, not per event.
func (c *Collector) Snapshot() Snapshot {
	s := Snapshot{
		Elapsed:      c.now().Sub(c.started()),
		Devices:      c.info.Devices,
		Connected:    c.connected.Load(),
		ConnectedMax: c.connectedMax.Load(),
	}
	last := int(s.Elapsed/time.Second) - 1
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	if c.scratch == nil {
		c.scratch = hdr.NewPacked(histLowest, histHighest, histDigits)
	}
	c.scratch.Reset()
	var maxE2E time.Duration
	for i := range c.shards {
		maxE2E = max(maxE2E, c.shards[i].snapshot(&s, last, c.scratch))
	}
	s.E2ECount = c.scratch.TotalCount()
	if s.E2ECount > 0 {
		p99 := time.Duration(c.scratch.ValueAtPercentile(99)) * time.Microsecond
		s.E2EP99 = min(p99, maxE2E)
	}
	return s
}

// snapshot adds the shard's totals and the rates of bucket last to s,
// merges its end-to-end histograms into e2e and returns its largest
// end-to-end latency.
func (sh *shard) snapshot(s *Snapshot, last int, e2e *hdr.PackedHistogram) time.Duration {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var maxE2E time.Duration
	for i := range sh.stages {
		a := &sh.stages[i]
		s.Sent += a.counts[sim.Published]
		s.Acked += a.counts[sim.Acked]
		s.Received += a.counts[sim.Delivered]
		s.Errors += a.counts[sim.ConnectFailed] + a.counts[sim.Disconnected] + a.counts[sim.PublishFailed]
		e2e.Merge(a.lat[latE2E].h)
		if h := sh.hotFor(latE2E, i); h != nil {
			e2e.MergeFrom(h)
		}
		maxE2E = max(maxE2E, a.lat[latE2E].max)
	}
	if last >= 0 && last < len(sh.series) {
		sec := &sh.series[last]
		s.SentPerSec += sec.sent
		s.AckedPerSec += sec.acked
		s.ReceivedPerSec += sec.delivered
	}
	return maxE2E
}

// ProgressLine formats s as one terminal line against the planned duration
// total (zero when open-ended):
//
//	12s/30s  connected 1000/1000  sent 2003/s  e2e p99 1.8ms  errors 0
func ProgressLine(s Snapshot, total time.Duration) string {
	var b strings.Builder
	b.WriteString("  ")
	b.WriteString(clock(s.Elapsed))
	if total > 0 {
		b.WriteString("/" + clock(total))
	}
	fmt.Fprintf(&b, "  connected %d", s.Connected)
	if s.Devices > 0 {
		fmt.Fprintf(&b, "/%d", s.Devices)
	}
	fmt.Fprintf(&b, "  sent %d/s  e2e p99 ", s.SentPerSec)
	if s.E2ECount > 0 {
		b.WriteString(shortDuration(s.E2EP99))
	} else {
		b.WriteString("-")
	}
	fmt.Fprintf(&b, "  errors %d", s.Errors)
	return b.String()
}

// clock formats d in whole seconds: 12s, 5m03s, 1h02m03s.
func clock(d time.Duration) string {
	sec := int64(max(d, 0) / time.Second)
	h, m, s := sec/3600, sec/60%60, sec%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// shortDuration formats d to three significant figures in µs, ms or s:
// 850µs, 1.8ms, 250ms, 1.25s.
func shortDuration(d time.Duration) string {
	v, u := float64(d)/float64(time.Second), "s"
	switch {
	case d < time.Millisecond:
		v, u = float64(d)/float64(time.Microsecond), "µs"
	case d < time.Second:
		v, u = float64(d)/float64(time.Millisecond), "ms"
	}
	return sigFigs(v, 3) + u
}

// sigFigs formats v with at most n significant figures and no trailing
// zeros.
func sigFigs(v float64, n int) string {
	decimals := 0
	if v > 0 {
		decimals = max(0, n-1-int(math.Floor(math.Log10(v))))
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
