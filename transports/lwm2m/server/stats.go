package server

import (
	"sync/atomic"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// Stats are the server's counts since Start.
type Stats struct {
	Registered      int    // devices registered now
	Registrations   uint64 // Register requests accepted
	Updates         uint64 // Update requests accepted
	Rebound         uint64 // Updates that came from a new address (NAT rebinding)
	Deregistrations uint64
	Expired         uint64 // registrations whose lifetime ran out
	Rejected        uint64 // Register and Update requests answered 4.xx or 5.03
	// Requests counts the requests sent to devices by operation, and
	// Responses their answers by operation and code.
	Requests        map[lwm2m.Op]uint64
	Responses       map[lwm2m.Op]map[coap.Code]uint64
	Queued          uint64 // requests that waited for a queue-mode device to wake
	Retransmissions uint64
	Timeouts        uint64
	Resets          uint64
	Notifications   uint64
	Stale           uint64 // notifications older than one delivered (reordered), dropped
	FirmwareBlocks  uint64 // blocks of the firmware image served
	Sends           uint64 // Send requests accepted (POST /dp)
	Duplicates      uint64 // device messages answered from the duplicate cache
	Unmatched       uint64 // answers matching no request
	Malformed       uint64
	ReadErrors      uint64
	WriteErrors     uint64
}

const (
	cRegistrations = iota
	cUpdates
	cRebound
	cDeregistrations
	cExpired
	cRejected
	cQueued
	cRetransmissions
	cTimeouts
	cResets
	cNotifications
	cStale
	cFirmwareBlocks
	cSends
	cDuplicates
	cUnmatched
	cMalformed
	cReadErrors
	cWriteErrors
	numCounters
)

// counters are the server's counts; all atomic.
type counters struct {
	n     [numCounters]atomic.Uint64
	ops   [lwm2m.NumOps]atomic.Uint64
	codes [lwm2m.NumOps][3 * 32]atomic.Uint64 // classes 2, 4, 5 by detail
}

func (c *counters) add(i int) uint64 { return c.n[i].Add(1) }

func (c *counters) op(o lwm2m.Op) {
	if int(o) < lwm2m.NumOps {
		c.ops[o].Add(1)
	}
}

func (c *counters) code(o lwm2m.Op, k coap.Code) {
	i := int(k.Detail())
	switch k.Class() {
	case 2:
	case 4:
		i += 32
	case 5:
		i += 64
	default:
		return
	}
	if int(o) < lwm2m.NumOps {
		c.codes[o][i].Add(1)
	}
}

// Stats returns the counts.
func (s *Server) Stats() Stats {
	c := &s.st
	g := func(i int) uint64 { return c.n[i].Load() }
	st := Stats{Registered: s.Registered(), Registrations: g(cRegistrations), Updates: g(cUpdates),
		Rebound: g(cRebound), Deregistrations: g(cDeregistrations), Expired: g(cExpired),
		Rejected: g(cRejected), Queued: g(cQueued), Retransmissions: g(cRetransmissions),
		Timeouts: g(cTimeouts), Resets: g(cResets), Notifications: g(cNotifications), Stale: g(cStale),
		FirmwareBlocks: g(cFirmwareBlocks), Sends: g(cSends), Duplicates: g(cDuplicates), Unmatched: g(cUnmatched),
		Malformed: g(cMalformed), ReadErrors: g(cReadErrors), WriteErrors: g(cWriteErrors),
		Requests: map[lwm2m.Op]uint64{}, Responses: map[lwm2m.Op]map[coap.Code]uint64{}}
	for o := range lwm2m.NumOps {
		if n := c.ops[o].Load(); n > 0 {
			st.Requests[lwm2m.Op(o)] = n
		}
		for i := range c.codes[o] {
			if n := c.codes[o][i].Load(); n > 0 {
				if st.Responses[lwm2m.Op(o)] == nil {
					st.Responses[lwm2m.Op(o)] = map[coap.Code]uint64{}
				}
				st.Responses[lwm2m.Op(o)][codeAt(i)] = n
			}
		}
	}
	return st
}

// codeAt inverts the index of counters.code.
func codeAt(i int) coap.Code {
	return coap.NewCode([...]uint8{2, 4, 5}[i/32], uint8(i%32))
}
