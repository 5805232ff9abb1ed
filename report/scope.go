package report

import (
	"fmt"
	"strings"
)

// Scopes a threshold may narrow its metric to: one group of the run, or
// every group that speaks one protocol ("group.meters.latency.e2e.p99",
// "protocol.http.latency.e2e.p99").
const (
	ScopeGroup    = "group"
	ScopeProtocol = "protocol"
)

// scopedMetrics are the metrics a group or a protocol has: its latencies,
// messages, unanswered commands and requests, and its protocol's counts
// (counts.NAME). The rest (connects, devices, errors) are the run's.
var scopedMetrics = []string{"latency.", "messages.", "commands.unanswered", "requests.unanswered", "counts."}

// cutScope splits "group.NAME.metric" or "protocol.NAME.metric" into its
// scope, the scope's name and the metric; scope is "" for a run-wide
// metric. A group name may hold dots only if no metric follows them
// ambiguously: the metric starts at the first known metric prefix.
func cutScope(name string) (scope, of, metric string, err error) {
	for _, sc := range []string{ScopeGroup, ScopeProtocol} {
		rest, ok := strings.CutPrefix(name, sc+".")
		if !ok {
			continue
		}
		for i := 0; i < len(rest); i++ {
			if rest[i] != '.' || i == 0 {
				continue
			}
			m := rest[i+1:]
			for _, p := range scopedMetrics {
				if strings.HasPrefix(m, p) {
					return sc, rest[:i], m, nil
				}
			}
		}
		return "", "", "", fmt.Errorf("want %s.NAME.METRIC, where METRIC is one of latency.*, messages.*, "+
			"commands.unanswered, requests.unanswered or counts.NAME", sc)
	}
	return "", "", name, nil
}

// view is what a threshold's metric reads: the run's Result, or the
// figures of the groups its scope names, with those groups' indexes (into
// Result.Groups, and the metrics' per-group series) and counts.
type view struct {
	*Result
	groups []int            // nil: the whole run
	counts map[string]int64 // the scope's named counts; nil: the run's
}

// scoped is the part of r a threshold's scope names; false when r has no
// such group or protocol. A protocol every group of the run speaks is the
// whole run.
func scoped(r *Result, scope, of string) (*view, bool) {
	var idx []int
	for i := range r.Groups {
		g := &r.Groups[i]
		if scope == ScopeGroup && g.Name == of || scope == ScopeProtocol && protocolOf(g) == of {
			idx = append(idx, i)
		}
	}
	switch {
	case scope == "":
		return &view{Result: r}, true
	case len(idx) == 0:
		return nil, false
	case len(idx) == len(r.Groups) && scope == ScopeProtocol:
		return &view{Result: r}, true
	case scope == ScopeGroup:
		g := &r.Groups[idx[0]]
		return &view{Result: &Result{Messages: g.Messages, Commands: g.Commands, Requests: g.Requests,
			LatencyMS: g.LatencyMS, Metrics: r.Metrics}, groups: idx[:1], counts: orEmpty(g.Counts)}, true
	}
	for i := range r.Protocols {
		if p := &r.Protocols[i]; p.Protocol == of {
			return &view{Result: &Result{Messages: p.Messages, Commands: p.Commands, Requests: p.Requests,
				LatencyMS: p.LatencyMS, Metrics: r.Metrics}, groups: idx, counts: orEmpty(p.Counts)}, true
		}
	}
	return nil, false
}

// protocolOf is a group's protocol, MQTT when it names none.
func protocolOf(g *GroupResult) string {
	if g.Protocol == "" {
		return "mqtt"
	}
	return g.Protocol
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// histogram is a named latency's distribution over the view: the run's,
// or its groups' merged.
func (v *view) histogram(lm *LatencyMetric) (*latencyAcc, error) {
	if v.groups == nil {
		return lm.Run.decode(histDigits)
	}
	var all *latencyAcc
	for _, g := range v.groups {
		var h *Histogram
		if g < len(lm.Groups) {
			h = lm.Groups[g]
		}
		a, err := h.decode(histDigits)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = a
		} else {
			all.merge(a)
		}
	}
	return all, nil
}

// namedCount reads counts.NAME: a count a protocol made (coap_retransmit,
// lwm2m_fw_failed), over the run or the scope's groups. A count never
// made is 0: a threshold such as "counts.coap_4_04 == 0" passes on it.
func namedCount(name string) metric {
	return countMetric(func(r *view) int64 {
		if r.counts != nil {
			return r.counts[name]
		}
		if r.Metrics == nil || r.Metrics.Counters[name] == nil {
			return 0
		}
		return r.Metrics.Counters[name].Run
	})
}

// Unit is how the threshold's metric is written after its value: "ms"
// for a latency, "%" for a percent, "" for a count.
func (t Threshold) Unit() string {
	_, _, bare, err := cutScope(t.Metric)
	m, ok := lookupMetric(bare)
	if err != nil || !ok {
		return ""
	}
	return withUnit("", m.unit)
}
