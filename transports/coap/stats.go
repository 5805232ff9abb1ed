package coap

import "sync/atomic"

// Counters accumulates what sessions count for a report. It is safe for
// concurrent use: give one to every session of a group (Options.Counters)
// to count them together, or leave it nil for a session of its own.
type Counters struct {
	n     [numCounters]atomic.Uint64
	codes [3 * 32]atomic.Uint64 // responses of classes 2, 4 and 5, by detail
}

// The counters, indexes into Counters.n.
const (
	cRequests = iota
	cTransmissions
	cRetransmissions
	cTimeouts
	cResets
	cDuplicates
	cLate
	cUnmatched
	cSeparate
	cServerRequests
	cRefused
	cMalformed
	cNotifications
	cStale
	cNotificationsSent
	numCounters
)

// Stats is a snapshot of Counters.
type Stats struct {
	// Requests counts the requests accepted by Start and Do (pings
	// included).
	Requests uint64
	// Transmissions counts the datagrams that carried requests and the
	// device's notifications, first sends and retransmissions;
	// Retransmissions the latter only.
	Transmissions, Retransmissions uint64
	// Timeouts counts exchanges that ended with a *TimeoutError, Resets
	// those the server ended with RST (not pings, which expect it).
	Timeouts, Resets uint64
	// Duplicates counts datagrams received again: an ACK or response for
	// an exchange already answered, a server message whose message id was
	// seen within the exchange lifetime (acknowledged again, not handled
	// again).
	Duplicates uint64
	// Late counts answers to exchanges that had already ended without one
	// (timed out or abandoned); Unmatched answers to nothing the session
	// sent within the exchange lifetime (a confirmable one is rejected
	// with RST), and notifications for no observation of the session's
	// (rejected with RST, RFC 7641 §3.6, even non-confirmable ones).
	Late, Unmatched uint64
	// Separate counts responses that came in their own message rather
	// than piggybacked on the ACK of a confirmable request.
	Separate uint64
	// ServerRequests counts requests the server sent the device.
	ServerRequests uint64
	// Refused counts ICMP port-unreachable reports (ECONNREFUSED) on the
	// socket: nothing listened at the server's address.
	Refused uint64
	// Malformed counts datagrams that were not CoAP messages, or longer
	// than Options.MaxMessageSize.
	Malformed uint64
	// Notifications counts the notifications received for the session's
	// observations after their registration's response, duplicates not
	// included; Stale those of them dropped as older than one delivered
	// (RFC 7641 §3.4: reordered by the network).
	Notifications, Stale uint64
	// NotificationsSent counts the notifications the device sent
	// (Session.Notify), as Requests counts requests.
	NotificationsSent uint64
	// Codes counts the responses received to the session's requests, by
	// code; notifications are not included.
	Codes map[Code]uint64
}

func (c *Counters) add(i int) { c.n[i].Add(1) }

// code counts one response with code k.
func (c *Counters) code(k Code) {
	if i, ok := codeIndex(k); ok {
		c.codes[i].Add(1)
	}
}

func codeIndex(k Code) (int, bool) {
	switch k.Class() {
	case 2:
		return int(k.Detail()), true
	case 4:
		return 32 + int(k.Detail()), true
	case 5:
		return 64 + int(k.Detail()), true
	}
	return 0, false
}

// Snapshot returns the counts so far.
func (c *Counters) Snapshot() Stats {
	g := func(i int) uint64 { return c.n[i].Load() }
	s := Stats{Requests: g(cRequests), Transmissions: g(cTransmissions), Retransmissions: g(cRetransmissions),
		Timeouts: g(cTimeouts), Resets: g(cResets), Duplicates: g(cDuplicates), Late: g(cLate),
		Unmatched: g(cUnmatched), Separate: g(cSeparate), ServerRequests: g(cServerRequests),
		Refused: g(cRefused), Malformed: g(cMalformed), Notifications: g(cNotifications), Stale: g(cStale),
		NotificationsSent: g(cNotificationsSent), Codes: map[Code]uint64{}}
	for i := range c.codes {
		if n := c.codes[i].Load(); n > 0 {
			s.Codes[NewCode([]uint8{2, 4, 5}[i/32], uint8(i%32))] = n
		}
	}
	return s
}
