package netem

import "sync/atomic"

// Counters are one direction's packet counts (chunks on streams).
type Counters struct {
	// Sent counts packets that left the link: written to the socket on
	// the uplink, returned to the reader on the downlink.
	Sent int64
	// Dropped counts packets lost, or refused by a full queue (datagrams).
	Dropped int64
	// Duplicated counts extra copies sent (datagrams).
	Duplicated int64
	// Corrupted counts packets with a flipped bit (datagrams).
	Corrupted int64
	// Reordered counts packets sent ahead of the queue (datagrams).
	Reordered int64
	// Retransmitted counts stream chunks delayed by a modelled loss.
	Retransmitted int64
	// Queued is the number of packets in the queue now.
	Queued int64
}

// Stats are the counters of both directions.
type Stats struct {
	Up, Down Counters
}

type counter = atomic.Int64

// counters are the live, atomic Counters.
type counters struct {
	sent, dropped, duplicated, corrupted, reordered, retransmitted, queued counter
}

func (c *counters) snapshot() Counters {
	return Counters{
		Sent: c.sent.Load(), Dropped: c.dropped.Load(), Duplicated: c.duplicated.Load(),
		Corrupted: c.corrupted.Load(), Reordered: c.reordered.Load(),
		Retransmitted: c.retransmitted.Load(), Queued: c.queued.Load(),
	}
}

func (c Counters) add(d Counters) Counters {
	c.Sent += d.Sent
	c.Dropped += d.Dropped
	c.Duplicated += d.Duplicated
	c.Corrupted += d.Corrupted
	c.Reordered += d.Reordered
	c.Retransmitted += d.Retransmitted
	c.Queued += d.Queued
	return c
}

// statser is implemented by every conn a Shaper makes.
type statser interface{ Stats() Stats }

// StatsOf returns the counters of a conn made by a Shaper (Conn,
// PacketConn or a Dialer's), and false for any other value.
func StatsOf(c any) (Stats, bool) {
	s, ok := c.(statser)
	if !ok {
		return Stats{}, false
	}
	return s.Stats(), true
}
