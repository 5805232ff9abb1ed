package report

import (
	"maps"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/m2msim/m2msim/sim"
)

// GroupInfo names a device group and its size.
type GroupInfo struct {
	Name    string
	Devices int
	// Timed is how many of its devices the backend times end to end
	// (sim.Plan.Timed). When Info.E2E is nil and no group sets it, every
	// device counts as timed.
	Timed int
	// Protocol is the group's protocol ("mqtt", "coap").
	Protocol string
	// Untimed says no backend receives the group's telemetry
	// (sim.Group.Untimed): none of its devices is timed, whatever E2E.
	Untimed bool
}

// GroupResult is one device group's figures: its messages and exchanges,
// and what its radio did.
type GroupResult struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol,omitempty"`
	Devices  int    `json:"devices"`
	// TimedDevices is how many of its devices were timed end to end.
	TimedDevices int        `json:"timed_devices"`
	Messages     Messages   `json:"messages"`
	Commands     Commands   `json:"commands"`
	Requests     Requests   `json:"requests"`
	Radio        GroupRadio `json:"radio"`
	// LatencyMS are the group's own distributions, judged as the run's
	// are, from histograms of 2 significant figures (at most 1 % high).
	LatencyMS Latencies `json:"latency_ms"`
	// Counts are what the group's protocol counted by name (CoAP's
	// responses by code, its retransmissions).
	Counts map[string]int64 `json:"counts,omitempty"`
}

// GroupRadio is what a group's radios spent: frames and time on air,
// how long held sends waited (queue age at send), how long commands
// waited for the device to listen, and time asleep between reports.
type GroupRadio struct {
	Frames         int64   `json:"frames"`
	Collisions     int64   `json:"collisions"`
	AirtimeS       float64 `json:"airtime_s"`
	QueueAgeMS     Spread  `json:"queue_age_ms"`
	DownlinkWaitMS Spread  `json:"downlink_wait_ms"`
	Wakes          int64   `json:"wakes"`
	AsleepS        float64 `json:"asleep_s"`
	PromotionsMS   Spread  `json:"promotions_ms"`
}

// Spread summarises durations by count, mean and maximum.
type Spread struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	Max   float64 `json:"max"`
}

// maxGroups bounds the groups tracked, against a wild Event.Group.
const maxGroups = 1 << 12

// groupAcc accumulates one group's event counts (all, and those marked
// Timed) and, per kind, the sum and maximum of the latencies.
type groupAcc struct {
	counts, timed [numKinds]int64
	sum, max      [numKinds]time.Duration
	// lat holds merged latency distributions. A shard records into dense
	// instead: a dense histogram records in nanoseconds where a compact one
	// searches, and at groupDigits it costs 35 KB, not 250.
	lat   [numLatency]*latencyAcc
	dense [numLatency]*denseAcc
	named map[string]int64 // counts of sim.Counted, by Metric
}

// groupDigits is the precision of the groups' latency histograms: 2
// significant figures (at most 1 % high), so that every group of every
// shard can afford a dense one.
const groupDigits = ivDigits

// denseAcc is a latency distribution a shard records into.
type denseAcc struct {
	h        *hdr.Histogram
	sum, max time.Duration
}

// latency adds latency d of kind to the group's histogram for it.
func (g *groupAcc) latency(kind int, d time.Duration) {
	d = max(0, min(d, histMax))
	a := g.dense[kind]
	if a == nil {
		a = &denseAcc{h: hdr.New(histLowest, histHighest, groupDigits)}
		g.dense[kind] = a
	}
	a.sum += d
	a.max = max(a.max, d)
	_ = a.h.RecordValue(int64((d + time.Microsecond/2) / time.Microsecond))
}

// latencyAcc returns the group's merged accumulator for kind, made
// when missing.
func (g *groupAcc) latencyAcc(kind int) *latencyAcc {
	if g.lat[kind] == nil {
		g.lat[kind] = &latencyAcc{h: hdr.NewPacked(histLowest, histHighest, groupDigits)}
	}
	return g.lat[kind]
}

func (g *groupAcc) add(e sim.Event) {
	g.counts[e.Kind]++
	if e.Timed {
		g.timed[e.Kind]++
	}
	g.sum[e.Kind] += e.Latency
	g.max[e.Kind] = max(g.max[e.Kind], e.Latency)
}

func (g *groupAcc) merge(o *groupAcc) {
	for k, n := range o.named {
		g.named = addCount(g.named, k, n)
	}
	for k := range g.counts {
		g.counts[k] += o.counts[k]
		g.timed[k] += o.timed[k]
		g.sum[k] += o.sum[k]
		g.max[k] = max(g.max[k], o.max[k])
	}
	for k, a := range o.lat {
		if a != nil {
			g.latencyAcc(k).merge(a)
		}
	}
	for k, a := range o.dense {
		if a != nil {
			acc := g.latencyAcc(k)
			acc.h.MergeFrom(a.h)
			acc.sum += a.sum
			acc.max = max(acc.max, a.max)
		}
	}
}

func (g *groupAcc) spread(k sim.EventKind) Spread {
	n := g.counts[k]
	if n == 0 {
		return Spread{}
	}
	return Spread{Count: n, Mean: millis(g.sum[k] / time.Duration(n)), Max: millis(g.max[k])}
}

// group returns the accumulator for group i, growing the list; nil for
// an index out of range. s.mu is held.
func (s *shard) group(i int) *groupAcc {
	if i < 0 || i >= maxGroups {
		return nil
	}
	for len(s.groups) <= i {
		s.groups = append(s.groups, groupAcc{})
	}
	return &s.groups[i]
}

// groupResults merges the shards' group accumulators into one result per
// group named in Info.Groups.
func (c *Collector) groupResults(all []groupAcc) []GroupResult {
	if len(all) == 0 {
		return nil
	}
	out := make([]GroupResult, len(all))
	timed := c.timedDevices()
	for i, g := range all {
		out[i] = GroupResult{
			Name: c.info.Groups[i].Name, Protocol: c.info.Groups[i].Protocol, Devices: c.info.Groups[i].Devices,
			TimedDevices: timed[i],
			Messages:     messagesOf(&g.counts, &g.timed),
			Commands:     commandsOf(&g.counts),
			Requests:     requestsOf(&g.counts),
			LatencyMS:    groupLatencies(&g),
			Counts:       maps.Clone(g.named),
			Radio: GroupRadio{
				Frames: g.counts[sim.OnAir], Collisions: g.counts[sim.Collided], AirtimeS: seconds(g.sum[sim.OnAir]),
				QueueAgeMS: g.spread(sim.Deferred), DownlinkWaitMS: g.spread(sim.DownlinkWait),
				Wakes: g.counts[sim.Woke], AsleepS: seconds(g.sum[sim.Woke]),
				PromotionsMS: g.spread(sim.Promoted),
			},
		}
	}
	return out
}

// gatherGroups merges the shards' accumulators of the groups named in
// Info.Groups.
func (c *Collector) gatherGroups() []groupAcc {
	all := make([]groupAcc, len(c.info.Groups))
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for g := range min(len(s.groups), len(all)) {
			all[g].merge(&s.groups[g])
		}
		s.mu.Unlock()
	}
	return all
}

// timedDevices is how many devices of each group in Info.Groups the
// backend times end to end.
func (c *Collector) timedDevices() []int {
	out := make([]int, len(c.info.Groups))
	given := false
	for i, g := range c.info.Groups {
		out[i] = g.Timed
		given = given || g.Timed > 0 || g.Untimed
	}
	if !given && c.info.E2E == nil {
		for i, g := range c.info.Groups {
			out[i] = g.Devices
		}
	}
	return out
}

// ProtocolResult is the figures of all the groups that speak one
// protocol, their latencies merged from the groups' histograms.
type ProtocolResult struct {
	Protocol  string           `json:"protocol"`
	Groups    int              `json:"groups"`
	Devices   int              `json:"devices"`
	Messages  Messages         `json:"messages"`
	Commands  Commands         `json:"commands"`
	Requests  Requests         `json:"requests"`
	LatencyMS Latencies        `json:"latency_ms"`
	Counts    map[string]int64 `json:"counts,omitempty"`
}

// protocolResults merges the groups of each protocol, in order of first
// appearance; nil unless the run's groups speak two or more.
func (c *Collector) protocolResults(all []groupAcc) []ProtocolResult {
	var order []string
	byProto := map[string]*groupAcc{}
	out := map[string]*ProtocolResult{}
	for i := range all {
		p := c.info.Groups[i].Protocol
		if p == "" {
			p = "mqtt"
		}
		if byProto[p] == nil {
			order = append(order, p)
			byProto[p], out[p] = &groupAcc{}, &ProtocolResult{Protocol: p}
		}
		byProto[p].merge(&all[i])
		out[p].Groups++
		out[p].Devices += c.info.Groups[i].Devices
	}
	if len(order) < 2 {
		return nil
	}
	res := make([]ProtocolResult, len(order))
	for i, p := range order {
		g := byProto[p]
		r := out[p]
		r.Messages, r.Commands, r.Requests = messagesOf(&g.counts, &g.timed), commandsOf(&g.counts), requestsOf(&g.counts)
		r.LatencyMS, r.Counts = groupLatencies(g), maps.Clone(g.named)
		res[i] = *r
	}
	return res
}
