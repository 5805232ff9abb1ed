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

// RateWindow is the span a Snapshot's rates cover: the last full seconds,
// up to this many.
const RateWindow = 5 * time.Second

// Snapshot is a live view of a run in progress. Totals and E2EP99 cover
// the run so far; the rates and the backend's lag cover Window.
type Snapshot struct {
	Elapsed      time.Duration
	Devices      int   // planned fleet size
	Connected    int64 // live connections now
	ConnectedMax int64
	Sent         int64
	Timed        int64 // sent by devices timed end to end
	Acked        int64
	Received     int64
	Errors       int64
	// Window is the span of the rates: the last full seconds, at most
	// RateWindow; 0 in the run's first second.
	Window         time.Duration
	SentPerSec     float64
	TimedPerSec    float64
	AckedPerSec    float64
	ReceivedPerSec float64
	// BackendLagMax is the backend's largest lag in Window, and
	// BackendBehind whether it fell behind there: over 1 % of its reads
	// later than 100 ms, or one later than 1 s (the rule of
	// Backend.Behind).
	BackendLagMax time.Duration
	BackendBehind bool
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
	// The window holds the seconds [first, last], all of them over.
	last := min(int(s.Elapsed/c.iv)-1, c.maxBucket)
	first := max(0, last-max(1, int(RateWindow/c.iv))+1)
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	if c.scratch == nil {
		c.scratch = hdr.NewPacked(histLowest, histHighest, histDigits)
	}
	c.scratch.Reset()
	var maxE2E time.Duration
	var win second
	for i := range c.shards {
		maxE2E = max(maxE2E, c.shards[i].snapshot(&s, &win, first, last, c.scratch))
	}
	s.E2ECount = c.scratch.TotalCount()
	if s.E2ECount > 0 {
		p99 := time.Duration(c.scratch.ValueAtPercentile(99)) * time.Microsecond
		s.E2EP99 = min(p99, maxE2E)
	}
	if last >= first {
		s.window(&win, last-first+1, c.iv)
	}
	return s
}

// window sets the rates and the backend's state from the sum of n
// intervals of length iv.
func (s *Snapshot) window(w *second, n int, iv time.Duration) {
	s.Window = time.Duration(n) * iv
	per := func(v int64) float64 { return float64(v) / s.Window.Seconds() }
	s.SentPerSec, s.TimedPerSec = per(w.sent), per(w.timed)
	s.AckedPerSec, s.ReceivedPerSec = per(w.acked), per(w.delivered)
	s.BackendLagMax = w.lagMax
	// Nearest rank: p99 exceeds the limit when more than n/100 of n
	// reads do.
	s.BackendBehind = w.lagSlow > w.lagN/100 || w.lagMax > behindMax
}

// snapshot adds the shard's totals to s and its seconds [first, last] to
// win, merges its end-to-end histograms into e2e and returns its largest
// end-to-end latency.
func (sh *shard) snapshot(s *Snapshot, win *second, first, last int, e2e *hdr.PackedHistogram) time.Duration {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var maxE2E time.Duration
	for i := range sh.stages {
		a := &sh.stages[i]
		s.Sent += a.counts[sim.Published]
		s.Timed += a.timed[sim.Published]
		s.Acked += a.counts[sim.Acked]
		s.Received += a.counts[sim.Delivered]
		s.Errors += a.counts[sim.ConnectFailed] + a.counts[sim.Disconnected] + a.counts[sim.PublishFailed]
		e2e.Merge(a.lat[latE2E].h)
		if h := sh.hotFor(latE2E, i); h != nil {
			e2e.MergeFrom(h)
		}
		maxE2E = max(maxE2E, a.lat[latE2E].max)
	}
	for b := first; b <= min(last, len(sh.series)-1); b++ {
		win.add(sh.series[b])
	}
	return maxE2E
}

// ProgressLine formats s as one terminal line against the planned duration
// total (zero when open-ended). Rates cover the window the line names;
// past the planned end the clock stops and the line says how long the run
// has been draining:
//
//	12s/30s  connected 1000/1000  last 5s: sent 2003/s, received 2003/s  e2e p99 1.8ms  errors 0
//	30s/30s draining 4s  connected 1000/1000  last 5s: sent 0/s, received 1250/s  e2e p99 3.5s  errors 0  BACKEND BEHIND: lag 2.1s
func ProgressLine(s Snapshot, total time.Duration) string {
	var b strings.Builder
	b.WriteString("  ")
	switch {
	case total > 0 && s.Elapsed > total:
		b.WriteString(clock(total) + "/" + clock(total) + " draining " + clock(s.Elapsed-total))
	case total > 0:
		b.WriteString(clock(s.Elapsed) + "/" + clock(total))
	default:
		b.WriteString(clock(s.Elapsed))
	}
	fmt.Fprintf(&b, "  connected %d", s.Connected)
	if s.Devices > 0 {
		fmt.Fprintf(&b, "/%d", s.Devices)
	}
	b.WriteString("  " + rates(s))
	switch {
	case s.E2ECount > 0:
		b.WriteString("  e2e p99 " + shortDuration(s.E2EP99))
	case s.Sent > 0 && s.Timed == 0:
		// Nothing is timed end to end (no backend takes part): the
		// acknowledgements are what there is to follow.
	default:
		b.WriteString("  e2e p99 -")
	}
	fmt.Fprintf(&b, "  errors %d", s.Errors)
	if s.BackendBehind {
		b.WriteString("  BACKEND BEHIND: lag " + shortDuration(s.BackendLagMax))
	}
	return b.String()
}

// rates writes the send and receive rates over s.Window, and the timed
// rate the receive rate compares with when only a sample is timed.
func rates(s Snapshot) string {
	if s.Window == 0 {
		return "sent -/s, received -/s"
	}
	if s.Sent > 0 && s.Timed == 0 {
		return fmt.Sprintf("last %s: sent %s/s, acked %s/s", clock(s.Window), fmtRate(s.SentPerSec), fmtRate(s.AckedPerSec))
	}
	timed := ""
	if s.TimedPerSec != s.SentPerSec {
		timed = " of " + fmtRate(s.TimedPerSec) + "/s timed"
	}
	return fmt.Sprintf("last %s: sent %s/s, received %s/s%s", clock(s.Window), fmtRate(s.SentPerSec), fmtRate(s.ReceivedPerSec), timed)
}

// fmtRate writes a rate as a whole number from 100 up, else to three
// significant figures: 2003, 86.4, 0.2.
func fmtRate(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return sigFigs(v, 3)
}

// clock formats d to the nearest second: 12s, 5m03s, 1h02m03s. A ticker
// that fires a hair before a whole second shows that second.
func clock(d time.Duration) string {
	sec := int64((max(d, 0) + time.Second/2) / time.Second)
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
