package report

import (
	"maps"
	"slices"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// Timeline returns r's intervals as Points, from its metrics section.
func Timeline(r *Result) ([]Point, error) {
	c, err := collectorFor(r)
	if err != nil {
		return nil, err
	}
	st, err := c.decodeState(r.Metrics, len(r.Stages), len(r.Groups))
	if err != nil {
		return nil, err
	}
	out := make([]Point, len(st.series))
	var live int64
	for i := range st.series {
		live += st.series[i].connDelta
		out[i] = c.pointOf(i, &st.series[i], at(st.obs, i), live)
	}
	return out, nil
}

// Points returns the complete intervals from index from on, as Points:
// the same figures Timeline gives for them once the run is over. It is
// safe to call while events are recorded, about once an interval.
func (c *Collector) Points(from int) []Point {
	last := min(int(c.now().Sub(c.started())/c.iv)-1, c.maxBucket)
	from = max(0, from)
	if last < from {
		return nil
	}
	series, live := c.gatherRange(from, last)
	obs, _ := c.observations()
	out := make([]Point, 0, last-from+1)
	for i := from; i <= last; i++ {
		sec := &series[i-from]
		live += sec.connDelta
		out = append(out, c.pointOf(i, sec, at(obs, i), live))
	}
	return out
}

// gatherRange merges the shards' intervals [from, to] and returns them
// with the live connections at the start of from, as the series counts
// them.
func (c *Collector) gatherRange(from, to int) ([]second, int64) {
	out := make([]second, to-from+1)
	var live int64
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for b := range min(from, len(sh.series)) {
			live += sh.series[b].connDelta
		}
		for b := from; b <= min(to, len(sh.series)-1); b++ {
			out[b-from].add(sh.series[b])
			for k := range numLatency {
				if h := sh.ivHotFor(k, b); h != nil {
					out[b-from].latency(k, ivDigits).h.MergeFrom(h)
				}
			}
		}
		sh.mu.Unlock()
	}
	return out, live
}

// pointOf lays interval i out as a Point. live is the number of
// connections the series counts at its end, used when no observation
// says how many devices are in each state.
func (c *Collector) pointOf(i int, sec *second, ob observation, live int64) Point {
	end := time.Duration(i+1) * c.iv
	ivS := c.iv.Seconds()
	p := Point{T: end.Seconds(), Active: c.info.Devices, Errors: map[string]int64{},
		Latency: map[string]Quantiles{}, Rates: map[string]float64{}}
	if st := c.stageAt(end - 1); st >= 0 {
		p.Stage, p.Active = c.info.Stages[st].Name, c.info.Stages[st].Devices
	}
	p.Devices = DeviceStates{Connected: live}
	if ob.set {
		p.Devices = DeviceStates{Connecting: ob.census.Connecting, Connected: ob.census.Connected,
			Sleeping: ob.census.Sleeping, Offline: ob.census.Offline}
	}
	n := &sec.kinds
	for name, v := range map[string]int64{"sent": n[sim.Published], "acked": n[sim.Acked], "received": n[sim.Delivered],
		"connects": n[sim.Connected], "errors": sec.errors, "commands": n[sim.CommandSent], "requests": n[sim.RequestSent]} {
		p.Rates[name] = round3(float64(v) / ivS)
	}
	for k, a := range sec.lat {
		if a != nil && a.h.TotalCount() > 0 {
			p.Latency[c.metricName(k)] = a.quantiles()
		}
	}
	maps.Copy(p.Errors, sec.errs)
	if n[sim.OnAir]+n[sim.Deferred]+n[sim.Collided]+n[sim.DownlinkWait] > 0 {
		p.Radio = &RadioPoint{AirtimeS: seconds(sec.sum[sim.OnAir]), Deferred: n[sim.Deferred],
			Collisions: n[sim.Collided], DownlinkWaitMS: millis(sec.max[sim.DownlinkWait])}
	}
	if a := sec.lat[latLag]; a != nil {
		p.Self.ScheduleLagMS = millis(a.max)
	}
	if ob.set {
		p.Self.CPUPct, p.Self.OpenFiles, p.Self.OpenFilesMax = ob.cpuPct, ob.files, ob.limit
		p.Self.Procs = int64(ob.procs)
	}
	return p
}

// quantiles summarises the finished flows of a, in ms.
func (a *latencyAcc) quantiles() Quantiles {
	maxUS := int64((a.max + time.Microsecond/2) / time.Microsecond)
	q := func(p float64) float64 { return float64(min(a.h.ValueAtPercentile(p), maxUS)) / 1000 }
	return Quantiles{Count: a.h.TotalCount(), P50: q(50), P90: q(90), P99: q(99), Max: float64(maxUS) / 1000}
}

// stageAt is the index of the stage holding t, or -1 without stages; past
// the last stage, the last.
func (c *Collector) stageAt(t time.Duration) int {
	if len(c.stageEnds) == 0 {
		return -1
	}
	i, found := slices.BinarySearch(c.stageEnds, t)
	if found {
		i++
	}
	return min(i, len(c.stageEnds)-1)
}
