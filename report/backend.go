package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// m2msim's backend counts as behind when its lag (from a message reaching
// this host to m2msim reading it) has a p99 over behindP99 or a maximum
// over behindMax. A backend that keeps up reads within microseconds to a
// few milliseconds (a goroutine wake-up and a read). More than 1 % of
// reads later than 100 ms, longer than a healthy broker takes end to end,
// means messages queue in m2msim's sockets: its TCP windows close and the
// broker's queue for it grows until the broker drops (Mosquitto beyond
// max_queued_messages, 1000 by default). One stall over a second is
// enough to fill such a queue at 1000 messages a second, and in a long
// run it would not move the p99. The rule reads percentiles, not the
// mean, so a few scheduler hiccups do not trip it.
const (
	behindP99 = 100 * time.Millisecond
	behindMax = time.Second
)

// behind applies the rule above to the backend's lag.
func behind(lag LatencyStats) bool {
	return lag.Count > 0 && (lag.P99.Beyond || lag.P99.V > toMillis(behindP99) || lag.Max > toMillis(behindMax))
}

// lateSends is the schedule lag p99 beyond which m2msim itself did not
// keep to the schedule: a send 100 ms late already shifts a 10/s device
// by a whole period.
const lateSends = 100 * time.Millisecond

// sample describes the devices timed end to end.
func (c *Collector) sample() Sample {
	s := Sample{Fraction: 1, Fleet: c.info.Devices}
	if c.info.E2E != nil {
		s.Fraction = c.info.E2E.Fraction
	}
	if len(c.info.Groups) == 0 {
		if c.info.E2E == nil {
			s.Devices = c.info.Devices
		}
		return s
	}
	for _, n := range c.timedDevices() {
		s.Devices += n
	}
	return s
}

// warnings writes the sentences a reader of r must not miss.
func warnings(r *Result) []string {
	w := []string{}
	if r.Backend.Behind {
		w = append(w, behindWarning(r))
		if n := r.Messages.LostAfterAck + r.Messages.LostUnconfirmed; n > 0 {
			w = append(w, fmt.Sprintf("%d lost messages were sent but never reached m2msim's backend while it was behind: "+
				"a broker drops the messages of a subscriber that reads too slowly, so this loss may be m2msim's own, not the broker's.", n))
		}
	}
	if n, kinds := backendFailures(r.Errors); n > 0 {
		w = append(w, fmt.Sprintf("m2msim's backend could not send %d commands or answers (%s): "+
			"they count as errors, not as unanswered, and the load on the devices was lower than planned.", n, kinds))
	}
	if r.Status == StatusAborted {
		w = append(w, "The drain was cut short by a second interrupt: messages, acknowledgements and replies "+
			"still in flight count as lost, unacknowledged or unanswered.")
	}
	if s := r.LatencyMS.ScheduleLag; s.Count > 0 && s.P99.V > toMillis(lateSends) {
		w = append(w, fmt.Sprintf("m2msim sent late (schedule lag p99 %s, max %s): the generator did not keep to the schedule, "+
			"so the load offered was lower than planned; latencies still run from the intended times.",
			fmtMS(s.P99.V), fmtMS(s.Max)))
	}
	return w
}

func behindWarning(r *Result) string {
	lag := r.LatencyMS.BackendLag
	return fmt.Sprintf("m2msim's backend fell behind: it read messages up to %s after they reached this host (lag p99 %s). "+
		"End-to-end latency and loss may be partly m2msim's own: %s.", fmtMS(lag.Max), fmtMS(lag.P99.V), behindAdvice(r.Backend))
}

// behindAdvice tells a user how to let the backend keep up.
func behindAdvice(b Backend) string {
	conns := max(4, 2*b.Connections)
	frac := 0.1
	if b.E2E.Fraction < 0.2 {
		frac = b.E2E.Fraction / 2
	}
	return fmt.Sprintf("give the backend more connections (backend: {connections: %d}) or time a sample of the fleet (backend: {e2e: %s%%})",
		conns, fmtFloat(math.Round(frac*1000)/10))
}

// backendFailures counts the failed sends of m2msim's backend, errors
// labelled backend_*, and lists their kinds.
func backendFailures(e ErrorCounts) (int64, string) {
	var n int64
	var kinds []string
	for k, v := range e {
		if strings.HasPrefix(k, "backend_") && v > 0 {
			n += v
			kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
		}
	}
	slices.Sort(kinds)
	return n, strings.Join(kinds, ", ")
}

// toMillis is d in milliseconds.
func toMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtMS writes a latency in ms to three significant figures with its
// unit: 850µs, 1.2ms, 2.1s.
func fmtMS(ms float64) string {
	return shortDuration(time.Duration(math.Round(ms * float64(time.Millisecond))))
}
