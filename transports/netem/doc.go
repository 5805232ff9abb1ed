// Package netem emulates Linux tc-netem in userspace, per device and per
// direction: every virtual device talks through its own shaped link. The
// CI kernel has no sch_netem, so this package is m2msim's link emulation.
//
// A Profile holds one direction's impairments with tc's option names
// (ParseProfile reads tc's syntax); a Link pairs the uplink (device to
// server) with the downlink, so a round trip adds both delays, as two
// egress netems do. A Shaper wraps conns (Conn, PacketConn) or a dialer
// (Dialer) and owns the goroutines that send delayed uplink traffic. A
// Path is the packet-level entry, for whole IP packets (the kernel
// package's wire between network namespaces): datagram semantics, with the
// packet's own headers counted by rate.
//
// # Semantics
//
// Datagrams (UDP, through PacketConn or a dialed "udp" conn) follow
// netem_enqueue and netem_dequeue of Linux 6.18 step for step: duplicate,
// loss, corrupt, the queue limit (a full queue drops, and the write still
// succeeds, as UDP's does), reorder with gap (the reordered datagram leaves
// at once, ahead of the queue and of slots), delay drawn by tabledist,
// rate (tts = max(now+delay, last queued tts) + tx(len), so rate
// serialises and never reorders), and slots on the way out. Without rate,
// datagrams are sorted by their send time, so jitter larger than the gap
// between datagrams reorders them, as in the kernel. The length that rate
// and slot bytes count is the payload plus 28 bytes of IPv4+UDP header
// (48 for IPv6); PacketOverhead adds link framing on top, as the man page
// advises for L2 (so 72 payload bytes at 10kbit take 80 ms). Corruption
// flips one bit of the payload and delivers it: a real stack would often
// drop it on the UDP checksum, but delivering it tests what the protocol
// above does with bad bytes.
//
// Streams (TCP: MQTT, HTTP, WebSocket) cannot lose, duplicate, corrupt
// or reorder bytes: TCP repairs all of that below the socket. So a stream
// is shaped as the chunks the application writes (and, downstream, as
// the chunks each read returns): each chunk gets a delay, and keeps its
// place behind the one before (due = max(own, previous due)), so jitter
// shows as head-of-line blocking, as it does in TCP. Loss becomes a
// retransmission delay: each loss of a chunk adds an RTO, 200 ms doubling
// per consecutive loss up to 120 s, for at most 15 retries. Rate
// serialises chunks with 52 bytes of IPv4+TCP header (72 for IPv6) per
// 1448-byte segment. Duplicate, corrupt and reorder are ignored on
// streams. A stream dialed through Dialer also waits one shaped round
// trip for the handshake. What the model leaves out: TCP's own reaction
// (congestion window, fast retransmit, ACK traffic), loss per segment
// rather than per chunk, and the receive window.
//
// # Timing
//
// Uplink: Write queues the data with its due time and returns; one
// goroutine per shard sends what is due, from a heap of conns ordered by
// their next due time, with a short write deadline so a stalled peer never
// blocks the shard. Stream writes block only when Limit chunks are queued,
// until there is room or the write deadline passes; datagram writes never
// block. Close returns at once; the underlying conn is closed once what
// was queued before it (and the FIN, one delay later) has left.
//
// Downlink: no goroutine at all. Read blocks on the underlying conn,
// stamps each chunk's arrival, and while the earliest chunk is not due
// keeps reading with the read deadline set to that due time, so later
// chunks get their own arrival stamps; it returns data once due. Time a
// chunk already spent waiting for Read counts against its delay. The
// arrival stamp is taken when the underlying read returns, so a reader
// that is busy elsewhere when data arrives adds that time to the delay;
// devices that keep a goroutine in Read (the usual reader loop) are
// exact. The caller's read deadline is honoured.
//
// Go's timers wake up to 1 ms late when the process is idle (the
// netpoller sleeps in whole milliseconds), and the shaper never sends
// early, so delays come out 0 to 1 ms long: on loopback with 10,000 UDP
// devices at 100 ms each way the error was p50 0.5 ms, p99 1.5 ms
// (bench/netem-accuracy).
//
// The zero Profile passes data straight through, without queueing.
//
// # Randomness
//
// Every direction of every conn draws from its own math/rand/v2 PCG,
// seeded from (seed, device, direction, connection number), never from
// the global source. Two modes set the correlation arithmetic.
// ModeKernel is sch_netem's get_crandom and tabledist, bit for bit, with
// the kernel's flaws: delay correlation does nothing (the table index
// takes the low bits), correlated random loss collapses the loss rate
// (loss 1% 25% loses almost nothing), jitter is capped at 2^31-1 ns. The
// default ModeModel keeps each marginal and correlates properly: delay
// through a Gaussian AR(1) copula whose latent correlation is calibrated
// (Mehler's Hermite expansion) so that successive delays have lag-1
// correlation DelayCorr; random loss, duplication, corruption and
// reordering through a two-state Markov chain (a simple Gilbert model)
// with the asked probability and lag-1 correlation. It has no jitter cap. The
// 4-state and Gilbert-Elliott loss models are the kernel's in both modes.
// Unlike the kernel, slot delays, corruption positions and the initial
// crand states are seeded too.
//
// The normal, pareto and paretonormal tables are generated with
// iproute2's own algorithms and equal the .dist files it ships.
package netem
