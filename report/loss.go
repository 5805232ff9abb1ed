package report

import (
	"fmt"
	"strings"
)

// lossLine puts the telemetry loss in words for the summary: how much of
// the timed telemetry was lost, where each lost message was last seen, and
// what that likely means, on a second line. It is empty when nothing was
// sent.
func lossLine(r *Result) string {
	m := r.Messages
	switch {
	case m.Sent == 0 && m.Timed == 0:
		return ""
	case m.Timed == 0:
		return "not measured: no device was timed end to end"
	case m.Lost == 0:
		return fmt.Sprintf("none of %d timed", m.Timed)
	}
	line := fmt.Sprintf("%d of %d timed (%s%%): %s.", m.Lost, m.Timed, fmtFloat(m.LossPct), strings.Join(lossParts(m), "; "))
	if meaning := lossMeaning(r); meaning != "" {
		line += "\n          " + meaning
	}
	return line
}

// lossParts names where the lost messages were last seen.
func lossParts(m Messages) []string {
	var p []string
	if m.LostUnacked > 0 {
		p = append(p, fmt.Sprintf("%d never acknowledged by the broker (it or the link lost them before accepting them)", m.LostUnacked))
	}
	if m.LostAfterAck > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged but never reached m2msim's backend", m.LostAfterAck))
	}
	if m.LostUnconfirmed > 0 {
		p = append(p, fmt.Sprintf("%d sent without acknowledgement (QoS 0) and never delivered", m.LostUnconfirmed))
	}
	if rest := m.Lost - m.LostUnacked - m.LostAfterAck - m.LostUnconfirmed; rest > 0 {
		p = append(p, fmt.Sprintf("%d not attributed (a result from before attribution)", rest))
	}
	return p
}

// lossMeaning says what the loss of messages the broker had taken, or may
// have taken, likely means: the broker dropped them on the way out, unless
// m2msim's backend fell behind, when the loss may be m2msim's own.
func lossMeaning(r *Result) string {
	m, lag := r.Messages, r.LatencyMS.BackendLag
	if m.LostAfterAck+m.LostUnconfirmed == 0 {
		return ""
	}
	if r.Backend.Behind {
		return fmt.Sprintf("m2msim's backend fell behind (lag p99 %s, max %s), so this loss may be m2msim's own (see the warnings).",
			fmtMS(lag.P99.V), fmtMS(lag.Max))
	}
	kept := "m2msim's backend lag was not measured"
	if lag.Count > 0 {
		kept = "m2msim's backend kept up: lag p99 " + fmtMS(lag.P99.V)
	}
	if m.LostAfterAck == 0 {
		return fmt.Sprintf("With no acknowledgement, the link or the broker lost them on the way in or out (%s).", kept)
	}
	return fmt.Sprintf("The broker dropped the acknowledged ones on the way out, or still held them at the end (%s). "+
		"Mosquitto drops a subscriber's messages beyond max_queued_messages (1000 by default).", kept)
}

// backendLine describes m2msim's backend: its connections, the devices it
// timed and its lag. It is empty when the run had no traffic for it.
func backendLine(r *Result) string {
	b, lag := r.Backend, r.LatencyMS.BackendLag
	if r.Messages.Sent+r.Commands.Sent+r.Requests.Sent+lag.Count == 0 {
		return ""
	}
	if b.Connections == 0 && b.E2E.Devices == 0 && lag.Count == 0 && r.Commands.Sent == 0 {
		return "" // no backend took part: the groups' protocols answer for themselves
	}
	var parts []string
	if b.Connections > 0 {
		parts = append(parts, plural(int64(b.Connections), "connection"))
	}
	parts = append(parts, "timed end to end: "+sampleWords(b.E2E))
	switch {
	case lag.Count == 0:
		parts = append(parts, "lag not measured")
	case b.Behind:
		parts = append(parts, fmt.Sprintf("lag p99 %s, max %s: BEHIND", fmtMS(lag.P99.V), fmtMS(lag.Max)))
	default:
		parts = append(parts, fmt.Sprintf("lag p99 %s, max %s: kept up", fmtMS(lag.P99.V), fmtMS(lag.Max)))
	}
	return strings.Join(parts, "; ")
}

// sampleWords says which devices were timed end to end.
func sampleWords(s Sample) string {
	switch {
	case s.Fraction >= 1 && s.Devices == s.Fleet:
		return "all " + plural(int64(s.Fleet), "device")
	case s.Fraction >= 1:
		return fmt.Sprintf("%d of %d devices (the others' protocols have no backend)", s.Devices, s.Fleet)
	case s.Fraction <= 0:
		return "none (e2e 0%)"
	}
	return fmt.Sprintf("%d of %d devices (%s%% of each group, chosen by the seed)", s.Devices, s.Fleet, fmtFloat(round3(100*s.Fraction)))
}

// plural writes n and noun, with an s unless n is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
