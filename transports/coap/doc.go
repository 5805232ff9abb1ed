// Package coap is m2msim's CoAP transport: a message codec (RFC 7252 §3,
// with the options of RFC 7641 Observe, RFC 7959 block-wise transfer and
// RFC 7967 No-Response) and a device-side Session with a reliability
// layer of its own, so that a load test counts what a library would hide:
// retransmissions, timeouts, resets, duplicates, responses by code.
//
// # Sessions
//
// A Session is one device's endpoint: one socket to one server, opened
// through the dial.Func it is given with network "udp", so link shaping
// (netem) and source-address pools compose underneath, and DTLS on top;
// any conn that keeps datagram boundaries will do. It costs one goroutine,
// its reader, and one runtime timer. Start sends a request and never
// blocks: its callback runs later on the reader goroutine (answers) or
// the timer's (timeouts), one callback at a time per session, never on
// the caller's goroutine, so an engine shard can call Start while holding
// its own locks as long as the callback does not need them for long. Do
// and Ping wrap Start for callers that wait. Options.Handler answers the
// requests a server sends (LwM2M device management).
//
// # Reliability (RFC 7252 §4)
//
// Every transmission parameter is an Options field with the RFC's default
// (§4.8): ACK_TIMEOUT 2s, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4, NSTART
// 1, and the derived MAX_TRANSMIT_WAIT (93s) and EXCHANGE_LIFETIME
// (247s).
//
//   - A confirmable request's first timeout T is drawn uniformly from
//     [ACK_TIMEOUT, ACK_TIMEOUT*ACK_RANDOM_FACTOR) by the session's own
//     PCG (Options.Seed, Options.Stream), then doubled at each
//     retransmission: sends at 0, T, 3T, 7T, 15T and a *TimeoutError at
//     31T. The session retransmits the same bytes (same message id).
//   - NSTART bounds the outstanding interactions (§4.7): unacknowledged
//     CONs and unanswered NONs. An empty ACK ends a CON's interaction (its
//     separate response is awaited up to ResponseTimeout without holding
//     the slot); a NON with a No-Response option suppressing every class
//     expects nothing and holds no slot. Further requests wait in a FIFO
//     of QueueLimit; past it Start refuses with a *QueueFullError rather
//     than let an open-model schedule slip unseen.
//   - Message ids are sequential from a seeded start. An id must not be
//     reused within EXCHANGE_LIFETIME, or a server that detects
//     duplicates as §4.5 asks takes the new message for the old one and
//     answers from its cache: a load test would count stale answers as
//     successes (libcoap 4.3.1 keeps no such cache; others do). So one
//     endpoint can send at most 65,536 messages per 247s, about 265 per
//     second; the session counts ids per fifteenth of the lifetime and
//     refuses a message with a *MessageIDError past that (up to 1/15
//     early, erring safe). Devices send far less; to load a server
//     harder, use more sessions (endpoints), as a fleet does.
//   - Duplicates (§4.5): a shaped link duplicates datagrams. An answer
//     whose message id (or token) the session issued within
//     EXCHANGE_LIFETIME but which matches no pending exchange is counted
//     as a duplicate; as late if it answers one of the last 4 exchanges
//     that ended unanswered (timed out or abandoned); as unmatched
//     otherwise. Ids and the session's own tokens are issued in sequence,
//     so this costs a subtraction, not a table. A server message whose id
//     was seen within EXCHANGE_LIFETIME (the last 8 are remembered) gets
//     the same answer again without being handled twice. A CON response
//     whose token matches nothing is rejected with RST (§5.3.2), as is a
//     CON request when there is no Handler.
//   - RST ends the exchange of the message it names with a *ResetError,
//     and answers a ping (an empty CON), which is how Ping succeeds.
//
// # Timers
//
// A session has one time.AfterFunc timer, created at its first request.
// It is armed for the earliest due time (a retransmission, or giving up
// on a response) and only ever moved earlier; when it fires it handles
// what is due and re-arms for the next. So an exchange answered in time
// costs the timer nothing, and a busy session touches the runtime's timer
// heap about once per ACK_TIMEOUT, not once per exchange. One timer per
// exchange would cost a heap operation per request and per answer; a
// shared wheel would need an owner goroutine outside the session. The
// timer's goroutine exists only while it runs.
//
// # Observe (RFC 7641)
//
// Observe registers with a resource (a GET with Observe 0) and calls its
// callback with the registration's response and each notification, on
// the same goroutines as done callbacks. A confirmable notification is
// acknowledged, a non-confirmable one accepted; duplicates go through
// the duplicate detection above, and a notification older than the last
// one delivered (a 24-bit sequence number behind by less than half the
// space, within 128 s: §3.4) is dropped and counted as Stale, so the
// caller sees a monotonic series however the link reorders. An
// observation ends with exactly one call marked Last: a response without
// Observe or other than 2.xx, the registration's failure, the session's
// loss, or Cancel: with deregistration (a GET with Observe 1, whose
// response is the last call) or without (the session forgets it and
// rejects its next notification with RST, non-confirmable ones too,
// §3.6). Delivering a notification allocates nothing. The observations
// live in a slice scanned by token: a device holds a few.
//
// The device side, for LwM2M: Options.Handler answers a server's GET
// with Observe 0 (its response carrying an Observe option), and Notify
// later sends notifications on that request's token, confirmable ones
// retransmitted and counted against NSTART like requests, their done
// reporting the ACK, an RST (the observer is gone) or a timeout. The
// caller keeps the sequence numbers.
//
// # Block-wise transfers (RFC 7959)
//
// Download fetches a body the server sends in Block2 blocks, Upload
// sends one in Block1 blocks. Each block is an exchange started from the
// previous block's callback, so retransmission, NSTART and the queue
// apply to every block and a transfer costs no goroutine. A smaller size
// the server asks for is followed (the next block number counts in it),
// as are 2.31 Continue and a 4.13 with a smaller Block1 size (start
// again in that size). A download checks block numbers, the ETag across
// blocks and a size limit; TransferOptions.Block takes the blocks as
// they come instead of assembling them. Progress (blocks, bytes,
// elapsed since the first block was sent) comes with every block and
// the result: how long a firmware download took, and how far it got.
//
// # The embedded server
//
// Package server (transports/coap/server) is an in-process CoAP server
// modelled on libcoap's coap-server -d: a bounded resource store (PUT
// creates or replaces, POST creates or appends, GET, DELETE), every
// resource observable, Block1 and Block2, duplicate detection from a
// cache, one socket with a reader and a few workers. Its Put pushes a
// change to the observers and OnUpdate reports what devices write: the
// backend of CoAP fleets, and a fast real server for tests, which run
// the Observe and block-wise flows against both it and libcoap.
//
// # libcoap 4.3.1, as observed
//
// Its coap-server sends notifications confirmable (with -N
// non-confirmable, each sixth confirmable),
// /time each second, and once more at once after the registration's
// response (the same time, the next sequence number); a dynamic resource
// (-d) notifies on PUT and on POST, which replaces it rather than
// appending; an RST to a notification removes the observer, and a GET
// with Observe 1 is answered 2.05 without Observe.
// It takes Block1 uploads to dynamic resources whether the blocks share
// a token or not, answering the last one 2.01 without a Block1 option;
// it serves Block2 in 1024-byte blocks by default, with Size2 and an
// ETag that differs from one transfer to the next of the same
// representation (a client may compare ETags within a transfer, not
// across). A full store (-d N) answers 4.06, by its help text.
//
// # DTLS
//
// Options.DTLS secures a session with DTLS 1.2 (RFC 6347; coaps, RFC 7252
// §9) through pion/dtls/v2 v2.2.12: Dial runs the client handshake over
// the dialed (and shaped) socket, then the session's messages travel in
// DTLS records. Supported:
//
//   - PSK (RFC 4279), a per-device identity and key; the default suite is
//     LwM2M's mandatory TLS_PSK_WITH_AES_128_CCM_8, and the other PSK
//     suites pion/dtls/v2 implements can be named (ParseCipherSuite).
//   - Certificates: a device certificate sent when the server asks, the
//     server's chain verified against RootCAs (or InsecureSkipVerify),
//     and its name or IP address checked. CA makes a throwaway ECDSA
//     P-256 CA, or loads the user's, and issues per-device certificates
//     (about 150µs each, half of it crypto/x509 checking its own
//     signature).
//   - Session resumption (RFC 5246 §7.3, by session id) through a
//     per-device SessionCache; Forget forces a full handshake, and
//     DTLSHandshake tells whether a handshake resumed and how long it
//     took. pion/dtls/v2 mistakes a full handshake whose server flight
//     spans datagrams for a resumption and stalls; the session joins
//     such a flight into one read beneath pion (flightJoiner).
//   - HandshakeTimeout (15s) and FlightInterval (1s, not doubled by
//     pion/dtls/v2); a failed handshake is a *HandshakeError, whose
//     Timeout tells a server that never answered. A wrong PSK shows as a
//     timeout against libcoap: it drops the Finished it cannot decrypt,
//     as RFC 6347 §4.1.2.7 allows, rather than send an alert.
//   - Close sends close_notify under a 1s write deadline, and a
//     close_notify from the server ends the session (Options.Lost).
//
// Not supported: DTLS Connection ID (RFC 9146), which pion/dtls/v2 does
// not implement, so a NAT rebinding or a changed source port ends the
// association as it would for a device without it; DTLS 1.3; raw public
// keys (RFC 7250); renegotiation; session tickets (RFC 5077).
//
// pion/dtls/v2 runs the handshake only: once it is over, the session's
// own record layer (recordConn) protects and opens its datagrams with
// pion's cipher suites and the keys the handshake agreed, on the
// session's reader goroutine, and pion's conn is closed without a word
// on the wire. pion's conn would have kept two goroutines, a third per
// read and an 8 KiB buffer per idle device: about 38 KiB and four
// goroutines a device, where the session now costs about 11 KiB and one
// (BenchmarkIdleDTLSSessions; a plain session, about 5 KiB). The record
// layer drops records that do not open and replays (a 64-record window,
// RFC 6347 §4.1.2.6), ends the session on close_notify or a fatal alert,
// and after an abbreviated handshake, whose last flight is the client's,
// resends that flight when the server resends its own.
//
// # Not yet
//
// An observation whose notifications carry the first block of a larger
// representation delivers them as they are (fetching the rest is the
// caller's: Download), and is not renewed when Max-Age runs out. Notify
// does not replace a confirmable notification still being retransmitted
// for the same registration (RFC 7641 §4.5.2 would); an RST to a
// non-confirmable notification is only counted. Upload does not follow
// a final response of its own that comes in Block2 blocks.
package coap
