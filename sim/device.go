package sim

import (
	"math/rand/v2"
	"sync"
	"time"
)

type devState uint8

const (
	stateIdle       devState = iota // inactive: no job, no socket
	stateWaiting                    // active, waiting for a connect job
	stateConnecting                 // a dial is under way
	stateConnected
	stateOffline // gave up reconnecting (backoff none)
	stateAsleep  // per-report: active, no connection until a send wakes it
)

// maxPending bounds the sends a sleeping per-report device holds while it
// wakes up.
const maxPending = 16

// earlyReply is a command's reply held until the session that received
// the command is up: a broker delivers a persistent session's queued
// messages right after CONNACK, before Connect returns.
type earlyReply struct {
	tok     Token
	payload []byte
	at      time.Duration // when it reached the device
	due     time.Duration // when the device hears it; -1: in its next receive window
}

// pendingSend is a send that woke a per-report device and waits for its
// connection.
type pendingSend struct {
	kind     uint8         // jobTelemetry or jobRequest
	at       time.Duration // when its slot fired, before any wake-up
	intended time.Duration
}

// inflight is a message awaiting its acknowledgement.
type inflight struct {
	ref      Ref
	kind     uint8 // jobTelemetry (its ack latency is recorded), jobRequest or jobCommand (a reply)
	intended time.Duration
}

// device is one virtual device's state. It is passive: jobs in its
// shard's queue and the callbacks of its session act on it. A fleet holds
// millions of them (sleeping per-report devices), so it keeps only what
// every device uses; the rest waits in x, allocated on first use.
type device struct {
	mu sync.Mutex // guards every field below
	// life changes on activation and deactivation; periodic jobs carry
	// it. conn changes on every connect attempt and loss; connection jobs
	// and session handlers carry it.
	life, conn uint32
	state      devState
	started    bool // periodic chains are running for this life
	timed      bool // the backend times its telemetry end to end; set by New
	waking     bool // an RRC setup is under way (Wake)
	seeded     bool // pcg is seeded
	group      uint16
	attempt    uint16 // reconnect attempts since the last success
	retries    uint32 // backoff draws so far: keeps each draw distinct
	seq        uint32
	nextRef    Ref
	cmdSeq     uint32
	reqSeq     uint32
	wakes      uint32 // wake draws so far: keeps each draw distinct
	frames     uint32 // frames put on air: keeps each channel draw distinct
	lastWrite  time.Duration
	upAt       time.Duration // when the current connection came up
	asleepAt   time.Duration // when a per-report device last went to sleep
	dedup      window        // telemetry sequence numbers the backend saw
	replies    window        // command sequence numbers whose replies it saw
	pending    []pendingSend
	inflight   []inflight
	sess       Session
	id         string   // rendered client ID, once connected
	pcg        rand.PCG // payload {{rand}}'s source, seeded on first use; inline, not one more object per device
	x          *extra   // nil until first used
}

// extra is the state most devices never use: radio limits, downlinks
// held for a sleeping device, commands that arrive during a handshake
// and short-token stamps.
type extra struct {
	early     []earlyReply  // commands that arrived during the handshake
	paged     []earlyReply  // commands the device cannot hear yet
	air       *frame        // the message on air (radio limits)
	held      []*frame      // rendered sends waiting for the band (radio limits)
	heldBytes int           // their payload bytes
	bandFree  time.Duration // when the band opens again (radio limits)
	rxAt      time.Duration // when the receive window after the last uplink opens (AfterUplink)
	rxFree    bool          // that window can still carry a downlink
	rxPeriod  uint32        // 1 + the DownPerDay period of the last window asked for
	day       uint32        // the day of the run dayCount counts (radio limits)
	dayCount  int           // frames sent in that day
	stamps    *stamps       // intended times of short-token messages; nil until one is sent
}

// ext returns the device's extra state, allocating it on first use.
// d.mu is held.
func (d *device) ext() *extra {
	if d.x == nil {
		d.x = new(extra)
	}
	return d.x
}

// sleep lets a per-report device going to sleep hold only what it needs
// until its next wake, which re-renders its client ID: a fleet of
// millions keeps no per-device allocation between reports. d.mu is held
// and nothing is in flight.
func (d *device) sleep() {
	d.inflight, d.id = nil, ""
	if x := d.x; x != nil && x.idle() {
		d.x = nil
	}
}

// idle reports whether x holds nothing.
func (x *extra) idle() bool {
	return x.early == nil && x.paged == nil && x.air == nil && x.held == nil && x.heldBytes == 0 &&
		x.bandFree == 0 && x.rxAt == 0 && !x.rxFree && x.rxPeriod == 0 && x.day == 0 && x.dayCount == 0 &&
		x.stamps == nil
}

// unsent counts the sends held for the radio and the one on air, which
// the drain awaits; x may be nil.
func (x *extra) unsent() int {
	if x == nil {
		return 0
	}
	n := len(x.held)
	if x.air != nil {
		n++
	}
	return n
}

// pagedLen counts the commands held for the device; x may be nil.
func (x *extra) pagedLen() int {
	if x == nil {
		return 0
	}
	return len(x.paged)
}

// takeEarly returns the commands that arrived during the handshake and
// forgets them; x may be nil.
func (x *extra) takeEarly() []earlyReply {
	if x == nil {
		return nil
	}
	early := x.early
	x.early = nil
	return early
}

// forget drops every message held for or by the device, as its
// deactivation does; x may be nil.
func (x *extra) forget() {
	if x != nil {
		x.early, x.held, x.air, x.paged, x.heldBytes = nil, nil, nil, nil, 0
	}
}

// stamp notes the intended time of a short-token message. d.mu is held.
func (d *device) stamp(k TokenKind, seq uint32, at time.Duration) {
	if d.ext().stamps == nil {
		d.ext().stamps = new(stamps)
	}
	d.ext().stamps.put(k, seq, at)
}

// unstamp gives a short token its full sequence number and intended time
// from the device's stamps, and reports whether it found them; a full
// token is returned as it is. d.mu is held.
func (d *device) unstamp(t Token) (Token, bool) {
	if t.Intended >= 0 {
		return t, true
	}
	var s *stamps
	if d.x != nil {
		s = d.x.stamps
	}
	seq, at, ok := s.get(t.Kind, t.Seq)
	if ok {
		t.Seq, t.Intended = seq, at
	}
	return t, ok
}

// stamps keeps the intended times of a device's latest short-token
// messages, which do not carry them, per flow: telemetry, commands (their
// replies close the round trip) and requests (closed by their answers).
// Commands get room for every one a sleeping device may hold.
type stamps struct {
	tele, req [8]stamp
	cmd       [maxPending]stamp
	n         [3]uint32
}

type stamp struct {
	seq  uint32
	used bool
	at   time.Duration
}

// ring returns the stamps of a token kind's flow: the kind sent, or the
// kind its answer comes back as.
func (s *stamps) ring(k TokenKind) (int, []stamp) {
	switch k {
	case TokenTelemetry:
		return 0, s.tele[:]
	case TokenCommand, TokenReply:
		return 1, s.cmd[:]
	}
	return 2, s.req[:]
}

// put notes a message's intended time.
func (s *stamps) put(k TokenKind, seq uint32, at time.Duration) {
	i, r := s.ring(k)
	r[s.n[i]%uint32(len(r))] = stamp{seq: seq, used: true, at: at}
	s.n[i]++
}

// get finds the latest message of the kind's flow whose sequence number
// has the short token's low bits, and returns its full number and
// intended time.
func (s *stamps) get(k TokenKind, short uint32) (uint32, time.Duration, bool) {
	if s == nil {
		return 0, 0, false
	}
	_, r := s.ring(k)
	var best *stamp
	for i := range r {
		if st := &r[i]; st.used && st.seq&shortSeqMask == short && (best == nil || st.seq > best.seq) {
			best = st
		}
	}
	if best == nil {
		return 0, 0, false
	}
	return best.seq, best.at, true
}

// maxInflight bounds a device's unacknowledged QoS 1/2 messages, as MQTT
// 5's Receive Maximum does: a broker that stops acknowledging must not
// grow a device's state without bound. MQTT 3.1.1 negotiates nothing, and
// Mosquitto silently drops a client's 21st unfinished QoS 2 message
// (max_inflight_messages 20), so 20 it is; sends past it are refused and
// counted as inflight_full.
const maxInflight = 20

// allocRef returns the device's next message reference. References run
// in sequence, skipping 0, so one is reused only after 2^32 messages:
// never while an older one is still in flight.
func (d *device) allocRef() Ref {
	d.nextRef++
	if d.nextRef == 0 {
		d.nextRef++
	}
	return d.nextRef
}

// next returns the next sequence number of a device-initiated flow.
func (d *device) next(kind uint8) uint32 {
	if kind == jobTelemetry {
		d.seq++
		return d.seq
	}
	d.reqSeq++
	return d.reqSeq
}

// ack removes ref from the in-flight list.
func (d *device) ack(ref Ref) (inflight, bool) {
	for i, f := range d.inflight {
		if f.ref == ref {
			last := len(d.inflight) - 1
			d.inflight[i] = d.inflight[last]
			d.inflight = d.inflight[:last]
			return f, true
		}
	}
	return inflight{}, false
}

// drop forgets every in-flight message and returns how many there were.
func (d *device) drop() int {
	n := len(d.inflight)
	d.inflight = d.inflight[:0]
	return n
}

// window remembers which of the last 64 sequence numbers were seen, so
// duplicates are told apart from first deliveries in constant space.
type window struct {
	top  uint32
	bits uint64 // bit i: top-i was seen
}

// seen marks seq and reports whether it had been seen already. Numbers
// older than the window count as duplicates.
func (w *window) seen(seq uint32) bool {
	switch {
	case w.bits == 0 || seq > w.top:
		shift := seq - w.top
		if w.bits == 0 || shift >= 64 {
			w.bits = 0
		} else {
			w.bits <<= shift
		}
		w.top = seq
		w.bits |= 1
		return false
	case w.top-seq >= 64:
		return true
	}
	bit := uint64(1) << (w.top - seq)
	dup := w.bits&bit != 0
	w.bits |= bit
	return dup
}

// errInflightFull is the kind recorded for a publish refused because the
// device already has maxInflight unacknowledged messages.
const errInflightFull = "inflight_full"

// cannotSend says why the device cannot send a message of f now, or "".
// d.mu is held.
func (d *device) cannotSend(f *flow) string {
	switch {
	case d.state != stateConnected:
		return "offline"
	case f.needsRef() && len(d.inflight) >= maxInflight:
		return errInflightFull
	}
	return ""
}
