package server

import (
	"sync/atomic"

	"github.com/m2msim/m2msim/transports/coap"
)

// counters are the server's counts, safe for concurrent use.
type counters struct {
	n       [numCounters]atomic.Uint64
	methods [32]atomic.Uint64     // requests by method: codes 0.00 to 0.31
	codes   [3 * 32]atomic.Uint64 // responses of classes 2, 4 and 5, by detail
}

// The counters, indexes into counters.n.
const (
	cNotifications = iota
	cConfirmable
	cRetransmissions
	cNotifyTimeouts
	cResets
	cRefused
	cDuplicates
	cDropped
	cMalformed
	cReadErrors
	cWriteErrors
	cHandshakes
	cHandshakeFailures
	cDTLSRefused
	cDTLSExpired
	cDTLSResumed
	numCounters
)

func (c *counters) add(i int) uint64 { return c.n[i].Add(1) }

func (c *counters) method(k coap.Code) { c.methods[k.Detail()].Add(1) }

func (c *counters) code(k coap.Code) {
	switch k.Class() {
	case 2:
		c.codes[k.Detail()].Add(1)
	case 4:
		c.codes[32+int(k.Detail())].Add(1)
	case 5:
		c.codes[64+int(k.Detail())].Add(1)
	}
}

// Stats is a snapshot of the server's counts.
type Stats struct {
	// Requests counts the requests handled, by method (GET, PUT...);
	// duplicates answered from the cache are not included.
	Requests map[coap.Code]uint64
	// Responses counts the responses sent, by code.
	Responses map[coap.Code]uint64
	// Notifications counts the notifications sent (first transmissions),
	// Confirmable those of them sent confirmable, Retransmissions their
	// retransmissions, NotifyTimeouts those never acknowledged (the
	// observer was removed).
	Notifications, Confirmable, Retransmissions, NotifyTimeouts uint64
	// Resets counts the RSTs received (each removes an observer);
	// ObserveRefused the registrations refused past MaxObservers.
	Resets, ObserveRefused uint64
	// Duplicates counts requests received again within the exchange
	// lifetime: answered from the cache, not handled twice.
	Duplicates uint64
	// Dropped counts datagrams dropped for a full worker queue,
	// Malformed those that were no CoAP message (or too long),
	// ReadErrors and WriteErrors the socket's failures.
	Dropped, Malformed, ReadErrors, WriteErrors uint64
	// DTLSHandshakes counts the DTLS handshakes completed, DTLSResumed
	// those of them that resumed a cached session,
	// DTLSHandshakeFailures those that failed (a wrong key or
	// certificate, a timeout); DTLSRefused the ClientHellos ignored past
	// DTLSConfig.MaxSessions; DTLSExpired the sessions ended for being
	// idle. DTLSSessions is the number of sessions established now,
	// DTLSHandshaking of those in their handshake.
	DTLSHandshakes, DTLSResumed, DTLSHandshakeFailures, DTLSRefused, DTLSExpired uint64
	DTLSSessions, DTLSHandshaking                                                int
	// Observers, Resources and Bytes are the current numbers of
	// registrations, resources and representation bytes stored.
	Observers, Resources int
	Bytes                int64
}

// Stats returns the server's counts so far.
func (s *Server) Stats() Stats {
	g := func(i int) uint64 { return s.st.n[i].Load() }
	st := Stats{Requests: map[coap.Code]uint64{}, Responses: map[coap.Code]uint64{},
		Notifications: g(cNotifications), Confirmable: g(cConfirmable), Retransmissions: g(cRetransmissions),
		NotifyTimeouts: g(cNotifyTimeouts), Resets: g(cResets), ObserveRefused: g(cRefused),
		Duplicates: g(cDuplicates), Dropped: g(cDropped), Malformed: g(cMalformed),
		ReadErrors: g(cReadErrors), WriteErrors: g(cWriteErrors),
		DTLSHandshakes: g(cHandshakes), DTLSHandshakeFailures: g(cHandshakeFailures),
		DTLSRefused: g(cDTLSRefused), DTLSExpired: g(cDTLSExpired), DTLSResumed: g(cDTLSResumed)}
	if s.dtls != nil {
		st.DTLSSessions, st.DTLSHandshaking = s.dtls.count()
	}
	for i := range s.st.methods {
		if n := s.st.methods[i].Load(); n > 0 {
			st.Requests[coap.Code(i)] = n
		}
	}
	for i := range s.st.codes {
		if n := s.st.codes[i].Load(); n > 0 {
			st.Responses[coap.NewCode([]uint8{2, 4, 5}[i/32], uint8(i%32))] = n
		}
	}
	st.Observers = s.obs.count()
	st.Resources, st.Bytes = s.store.size()
	return st
}
