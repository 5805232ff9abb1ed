package netem

import (
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"
)

// Header bytes a shaped packet carries on the wire beyond its payload,
// counted by rate and slot bytes: IP+UDP for datagrams, IP+TCP with
// timestamps per MSS-sized segment for streams. L2 framing is left to
// PacketOverhead, as the man page advises (e.g. 14 for Ethernet).
const (
	udp4Header = 20 + 8
	udp6Header = 40 + 8
	tcp4Header = 20 + 32
	tcp6Header = 40 + 32
	streamMSS  = 1448
)

// Stream retransmission model: a lost chunk arrives one RTO later, the
// RTO starting at Linux's 200 ms floor and doubling per consecutive loss,
// capped at TCP_RTO_MAX; after tcp_retries2 attempts it goes through.
const (
	rtoMin     = int64(200 * time.Millisecond)
	rtoMax     = int64(120 * time.Second)
	maxRetries = 15
)

// item is one packet or chunk in a queue.
type item struct {
	tts  int64  // time to send, ns since the shaper's epoch
	buf  []byte // pooled; nil for a marker
	off  int    // bytes already consumed (partial reads and writes)
	wire int    // length on the wire, for slot bytes
	addr net.Addr
	// fin marks the end of the stream: on the uplink, close the conn; on
	// the downlink, report err (io.EOF or the read error) to the reader.
	fin bool
	err error
}

// pipe is one direction of one conn: sch_netem's state and queues. mu
// guards everything in it; it is held only for queue operations, never
// across I/O.
type pipe struct {
	mu       sync.Mutex
	p        Profile // with defaults
	identity bool    // p.IsZero(): nothing to do
	kernel   bool
	stream   bool
	header   int // per packet (datagrams) or per segment (streams)
	rnd, aux *rand.Rand
	delay    delayGen
	loss     lossGen
	retry    uint32 // loss threshold of a retransmission: the long-run rate
	dup      bern
	corrupt  bern
	reorder  bern
	counter  int // packets delayed since the last reorder
	slot     slotState
	q        []item // the tfifo, sorted by tts (stable)
	qhead    int    // q[:qhead] are consumed
	headq    []item // reordered packets: leave first, bypassing slots
	lastDue  int64  // streams: the previous chunk's due time
	stats    *counters
	shard    *counters
}

// slotState is sch_netem's struct slotstate.
type slotState struct {
	on            bool
	next          int64
	packets, byts int64
}

func newPipe(p Profile, stream bool, header int, rnd, aux *rand.Rand, now int64, stats, shard *counters) *pipe {
	p = p.withDefaults()
	pp := &pipe{
		p: p, identity: p.IsZero(), kernel: p.Mode == ModeKernel, stream: stream, header: header,
		rnd: rnd, aux: aux, stats: stats, shard: shard,
	}
	// The kernel's order of init_crandom calls: delay, loss, dup, then
	// reorder, corrupt.
	pp.delay = newDelayGen(p, aux)
	pp.loss = newLossGen(p, aux)
	pp.retry = p.Loss.Rate().prob()
	pp.dup = newBern(p.Duplicate, p.DuplicateCorr, p.Mode, aux)
	pp.reorder = newBern(p.Reorder, p.ReorderCorr, p.Mode, aux)
	pp.corrupt = newBern(p.Corrupt, p.CorruptCorr, p.Mode, aux)
	if p.Slot.enabled() {
		pp.slot = slotState{on: true, next: now}
		pp.slot.refill(p.Slot)
	}
	return pp
}

func (s *slotState) refill(c Slot) {
	s.packets, s.byts = int64(c.Packets), int64(c.Bytes)
	if s.packets == 0 {
		s.packets = 1<<31 - 1
	}
	if s.byts == 0 {
		s.byts = 1<<31 - 1
	}
}

// getNext is get_slot_next.
func (pp *pipe) slotNext(now int64) {
	pp.slot.next = now + slotDelay(int64(pp.p.Slot.Min), int64(pp.p.Slot.Max), pp.aux)
	pp.slot.refill(pp.p.Slot)
}

// qlen is sch->q.qlen: the tfifo and the reorder queue together.
func (pp *pipe) qlen() int { return len(pp.q) - pp.qhead + len(pp.headq) }

// txTime is packet_time_ns for a packet of n wire bytes.
func (pp *pipe) txTime(n int) int64 { return packetTime(&pp.p, n, pp.kernel) }

// packetTime is sch_netem's packet_time_ns: n wire bytes plus the packet
// overhead, rounded up to whole cells with their overhead, at p's rate.
func packetTime(p *Profile, n int, kernel bool) int64 {
	l := int64(n + p.PacketOverhead)
	if c := int64(p.CellSize); c > 0 {
		cells := l / c
		if l > cells*c {
			cells++
		}
		l = cells * (c + int64(p.CellOverhead))
	}
	return p.Rate.txTime(l, kernel)
}

// wireLen is n payload bytes plus their headers.
func (pp *pipe) wireLen(n int) int {
	if !pp.stream {
		return n + pp.header
	}
	return n + pp.header*max(1, (n+streamMSS-1)/streamMSS)
}

// enqueueDatagram is netem_enqueue for one datagram sent (or received) at
// now; data is copied. depth is 1 for the duplicate, which is never
// duplicated again.
func (pp *pipe) enqueueDatagram(now int64, data []byte, addr net.Addr, depth int) {
	count := 1
	if depth == 0 && pp.dup.event(pp.rnd) {
		count++
	}
	if pp.loss.event(pp.rnd) {
		count--
	}
	if count == 0 {
		pp.count(&pp.stats.dropped, &pp.shard.dropped)
		return
	}
	it := item{buf: getBuf(data), wire: pp.wireLen(len(data)), addr: addr}
	var dup []byte
	if count > 1 {
		dup = data // the clone is taken before corruption
	}
	if pp.corrupt.event(pp.rnd) && len(it.buf) > 0 {
		it.buf[pp.aux.IntN(len(it.buf))] ^= 1 << pp.aux.IntN(8)
		pp.count(&pp.stats.corrupted, &pp.shard.corrupted)
	}
	if pp.qlen() >= pp.p.Limit {
		putBuf(it.buf)
		pp.count(&pp.stats.dropped, &pp.shard.dropped)
		return
	}
	if dup != nil {
		pp.count(&pp.stats.duplicated, &pp.shard.duplicated)
		pp.enqueueDatagram(now, dup, addr, 1)
	}
	pp.schedule(now, it)
}

// schedule is the reorder/delay/rate tail of netem_enqueue.
func (pp *pipe) schedule(now int64, it item) {
	if pp.p.Gap == 0 || pp.counter < pp.p.Gap-1 || !pp.reorder.event(pp.rnd) {
		d := pp.delay.draw(pp.rnd)
		if pp.p.Rate > 0 {
			if last, ok := pp.lastTTS(); ok {
				d = max(0, d-(last-now))
				now = last
			}
			d += pp.txTime(it.wire)
		}
		it.tts = now + d
		pp.counter++
		pp.insert(it)
	} else {
		it.tts = now
		pp.counter = 0
		pp.headq = slices.Insert(pp.headq, 0, it)
		pp.count(&pp.stats.reordered, &pp.shard.reordered)
	}
	pp.queued(1)
}

// lastTTS is the latest time to send of the queued packets, the kernel's
// reference point for rate.
func (pp *pipe) lastTTS() (int64, bool) {
	last, ok := int64(0), false
	if n := len(pp.headq); n > 0 {
		last, ok = pp.headq[n-1].tts, true
	}
	if pp.qhead < len(pp.q) {
		if t := pp.q[len(pp.q)-1].tts; !ok || t > last {
			last, ok = t, true
		}
	}
	return last, ok
}

// insert is tfifo_enqueue: append when not earlier than the tail,
// otherwise after every packet due no later.
func (pp *pipe) insert(it item) {
	pp.compact()
	n := len(pp.q)
	if n == pp.qhead || it.tts >= pp.q[n-1].tts {
		pp.q = append(pp.q, it)
		return
	}
	i, _ := slices.BinarySearchFunc(pp.q[pp.qhead:], it.tts, func(x item, t int64) int {
		if x.tts <= t {
			return -1
		}
		return 1
	})
	pp.q = slices.Insert(pp.q, pp.qhead+i, it)
}

// compact reclaims the consumed front of the tfifo once it is at least
// half of it, so a queue that never empties does not grow for ever.
func (pp *pipe) compact() {
	if pp.qhead == 0 || pp.qhead < len(pp.q)-pp.qhead {
		return
	}
	n := copy(pp.q, pp.q[pp.qhead:])
	clear(pp.q[n:])
	pp.q, pp.qhead = pp.q[:n], 0
}

// lost reports whether a stream chunk's transmission (attempt 0) or
// retransmission (attempt 1 on) is lost. The first follows the loss model,
// bursts included. A retransmission goes at least an RTO (200 ms) later,
// past a radio's loss burst: it is lost at the long-run rate, on its own.
// Counting bursts in packets would instead have a rarely-sending device's
// retransmissions, seconds apart, lost together: minutes of stall.
func (pp *pipe) lost(attempt int) bool {
	if attempt == 0 {
		return pp.loss.event(pp.rnd)
	}
	return pp.rnd.Uint32() < pp.retry
}

// enqueueChunk queues a stream chunk written (or read) at now and returns
// false when the queue is full. Streams keep their order: a chunk is due
// no earlier than the one before it. A lost chunk is retransmitted after
// an RTO that doubles per consecutive loss; rate serialises.
func (pp *pipe) enqueueChunk(now int64, data []byte, force bool) bool {
	if !force && pp.qlen() >= pp.p.Limit {
		return false
	}
	it := item{buf: getBuf(data), wire: pp.wireLen(len(data))}
	d := pp.delay.draw(pp.rnd)
	rto := rtoMin
	for i := 0; i < maxRetries && pp.lost(i); i++ {
		d += rto
		rto = min(2*rto, rtoMax)
		pp.count(&pp.stats.retransmitted, &pp.shard.retransmitted)
	}
	it.tts = max(now+d, pp.lastDue)
	if pp.p.Rate > 0 {
		it.tts += pp.txTime(it.wire)
	}
	pp.lastDue = it.tts
	pp.compact()
	pp.q = append(pp.q, it)
	pp.queued(1)
	return true
}

// enqueueFin queues the end of a stream (or a close), one delay behind
// the data before it: a FIN crosses the link too.
func (pp *pipe) enqueueFin(now int64, err error) {
	it := item{fin: true, err: err, tts: max(now+max(0, pp.delay.draw(pp.rnd)), pp.lastDue)}
	pp.lastDue = it.tts
	pp.compact()
	pp.q = append(pp.q, it)
	pp.queued(1)
}

// dequeue is netem_dequeue: it returns the next packet that may leave at
// now, or, with ok false, when to look again (wake, or 0 when the queue
// is empty).
func (pp *pipe) dequeue(now int64) (it item, ok bool, wake int64) {
	if n := len(pp.headq); n > 0 {
		it = pp.headq[0]
		pp.headq[0] = item{}
		pp.headq = pp.headq[1:]
		pp.queued(-1)
		return it, true, 0
	}
	if pp.qhead == len(pp.q) {
		return item{}, false, 0
	}
	head := &pp.q[pp.qhead]
	if pp.slot.on && pp.slot.next < head.tts {
		pp.slotNext(now)
	}
	if head.tts > now || (pp.slot.on && pp.slot.next > now) {
		w := head.tts
		if pp.slot.on {
			w = max(w, pp.slot.next)
		}
		return item{}, false, w
	}
	it = *head
	*head = item{}
	pp.qhead++
	pp.queued(-1)
	if pp.slot.on {
		pp.slot.packets--
		pp.slot.byts -= int64(it.wire)
		if pp.slot.packets <= 0 || pp.slot.byts <= 0 {
			pp.slotNext(now)
		}
	}
	return it, true, 0
}

// unshift puts back an item that could only partly be written; it keeps
// its place at the head.
func (pp *pipe) unshift(it item) {
	if pp.qhead > 0 {
		pp.qhead--
		pp.q[pp.qhead] = it
	} else {
		pp.q = slices.Insert(pp.q, 0, it)
	}
	pp.queued(1)
}

// nextWake is when dequeue may next return a packet, 0 if never.
func (pp *pipe) nextWake(now int64) int64 {
	if len(pp.headq) > 0 {
		return now
	}
	if pp.qhead == len(pp.q) {
		return 0
	}
	w := pp.q[pp.qhead].tts
	if pp.slot.on {
		w = max(w, pp.slot.next)
	}
	return max(w, 1)
}

// drain empties the queues, returning their buffers.
func (pp *pipe) drain() {
	for _, it := range pp.q[pp.qhead:] {
		putBuf(it.buf)
	}
	for _, it := range pp.headq {
		putBuf(it.buf)
	}
	pp.queued(-int64(pp.qlen()))
	pp.q, pp.qhead, pp.headq = nil, 0, nil
}

func (pp *pipe) count(c, agg *counter) {
	c.Add(1)
	agg.Add(1)
}

func (pp *pipe) queued(n int64) {
	pp.stats.queued.Add(n)
	pp.shard.queued.Add(n)
}

// bufPool recycles packet buffers of up to poolBufSize bytes, as array
// pointers so that putting one back does not allocate.
const poolBufSize = 2048

var bufPool = sync.Pool{New: func() any { return new([poolBufSize]byte) }}

// getBuf returns a copy of b, pooled when small.
func getBuf(b []byte) []byte {
	if len(b) > poolBufSize {
		return append([]byte(nil), b...)
	}
	return append(bufPool.Get().(*[poolBufSize]byte)[:0], b...)
}

// putBuf recycles a buffer from getBuf.
func putBuf(b []byte) {
	if cap(b) == poolBufSize {
		bufPool.Put((*[poolBufSize]byte)(b[:poolBufSize]))
	}
}

// touchSlot is the part of netem_dequeue that runs after every enqueue
// even when nothing leaves: a slot that would close before the head is
// due is abandoned and a new one drawn from now.
func (pp *pipe) touchSlot(now int64) {
	if pp.slot.on && len(pp.headq) == 0 && pp.qhead < len(pp.q) && pp.slot.next < pp.q[pp.qhead].tts {
		pp.slotNext(now)
	}
}
