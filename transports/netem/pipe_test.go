package netem

import (
	"bytes"
	"math"
	"slices"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// departures dequeues everything from pp as the shard would, waking at
// each returned time, and returns when each packet left and its payload.
func departures(pp *pipe, from int64) (at []int64, data [][]byte) {
	now := from
	for range 10_000 {
		it, ok, wake := pp.dequeue(now)
		if ok {
			at = append(at, now)
			data = append(data, it.buf)
			continue
		}
		if wake == 0 {
			break
		}
		now = wake
	}
	return at, data
}

// rate 10kbit with 100-byte packets (72 bytes of payload + 28 of IPv4 and
// UDP header) spaces departures by exactly 80 ms; a stream chunk of 48
// bytes + 52 of IPv4/TCP header does the same.
func TestRateSpacing(t *testing.T) {
	for _, tt := range []struct {
		name    string
		stream  bool
		payload int
	}{{"datagram", false, 72}, {"stream", true, 48}} {
		pp := newTestPipe(t, Profile{Rate: 10_000}, tt.stream)
		for range 5 {
			if tt.stream {
				pp.enqueueChunk(0, make([]byte, tt.payload), false)
			} else {
				pp.enqueueDatagram(0, make([]byte, tt.payload), nil, 0)
			}
		}
		at, _ := departures(pp, 0)
		want := []int64{80 * ms, 160 * ms, 240 * ms, 320 * ms, 400 * ms}
		if !slices.Equal(at, want) {
			t.Errorf("%s at 10kbit: departures %v, want %v", tt.name, at, want)
		}
	}
}

// Overheads and cells: (100+14) bytes rounded up to 2 cells of 64+6.
func TestRateCells(t *testing.T) {
	pp := newTestPipe(t, Profile{Rate: 8_000, PacketOverhead: 14, CellSize: 64, CellOverhead: 6}, false)
	pp.enqueueDatagram(0, make([]byte, 72), nil, 0)
	at, _ := departures(pp, 0)
	if want := int64(140 * ms); len(at) != 1 || at[0] != want {
		t.Errorf("rate 8kbit 14 64 6, 100-byte packet: left at %v, want [%d]", at, want)
	}
}

// Without rate, jitter larger than the gap between packets reorders them;
// with rate, packets stay serialised.
func TestJitterReordersWithoutRate(t *testing.T) {
	for _, tt := range []struct {
		rate      Bitrate
		reordered bool
	}{{0, true}, {1_000_000_000, false}} {
		pp := newTestPipe(t, Profile{Delay: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Rate: tt.rate}, false)
		for i := range 200 {
			pp.enqueueDatagram(int64(i)*ms, []byte{byte(i)}, nil, 0)
		}
		_, data := departures(pp, 0)
		inOrder := slices.IsSortedFunc(data, func(a, b []byte) int { return int(a[0]) - int(b[0]) })
		if len(data) != 200 || inOrder == tt.reordered {
			t.Errorf("rate %v: %d packets, in order %v, want reordered %v", tt.rate, len(data), inOrder, tt.reordered)
		}
	}
}

// reorder 100% gap 3: every third packet jumps the queue.
func TestReorderGap(t *testing.T) {
	pp := newTestPipe(t, Profile{Delay: 10 * time.Millisecond, Reorder: 100, Gap: 3}, false)
	for i := range 6 {
		pp.enqueueDatagram(0, []byte{byte(i)}, nil, 0)
	}
	at, data := departures(pp, 0)
	var order []byte
	for _, d := range data {
		order = append(order, d[0])
	}
	if want := []byte{5, 2, 0, 1, 3, 4}; !bytes.Equal(order, want) {
		t.Errorf("reorder 100%% gap 3: order %v, want %v", order, want)
	}
	if !slices.Equal(at, []int64{0, 0, 10 * ms, 10 * ms, 10 * ms, 10 * ms}) {
		t.Errorf("reorder 100%% gap 3: left at %v", at)
	}
	if got := pp.stats.reordered.Load(); got != 2 {
		t.Errorf("Reordered = %d, want 2", got)
	}
}

// limit 3 drops the fourth datagram; duplicate 100% sends every datagram
// twice (the copy never again); corrupt 100% flips exactly one bit.
func TestLimitDuplicateCorrupt(t *testing.T) {
	pp := newTestPipe(t, Profile{Delay: time.Second, Limit: 3}, false)
	for i := range 4 {
		pp.enqueueDatagram(0, []byte{byte(i)}, nil, 0)
	}
	if q, d := pp.qlen(), pp.stats.dropped.Load(); q != 3 || d != 1 {
		t.Errorf("limit 3, 4 packets: queued %d dropped %d, want 3 1", q, d)
	}

	pp = newTestPipe(t, Profile{Duplicate: 100}, false)
	for i := range 3 {
		pp.enqueueDatagram(0, []byte{byte(i)}, nil, 0)
	}
	if _, data := departures(pp, 0); len(data) != 6 || pp.stats.duplicated.Load() != 3 {
		t.Errorf("duplicate 100%%: %d packets, %d duplicated, want 6 3", len(data), pp.stats.duplicated.Load())
	}

	pp = newTestPipe(t, Profile{Corrupt: 100}, false)
	orig := bytes.Repeat([]byte{0x55}, 64)
	for range 50 {
		pp.enqueueDatagram(0, orig, nil, 0)
	}
	_, data := departures(pp, 0)
	for _, d := range data {
		if n := bitDiff(d, orig); n != 1 {
			t.Fatalf("corrupt 100%%: %d bits differ, want 1", n)
		}
	}
}

func bitDiff(a, b []byte) int {
	n := 0
	for i := range a {
		for x := a[i] ^ b[i]; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

// slot 10ms packets 2: two packets per slot, the next slot 10 ms later.
func TestSlot(t *testing.T) {
	pp := newTestPipe(t, Profile{Slot: Slot{Min: 10 * time.Millisecond, Max: 10 * time.Millisecond, Packets: 2}}, false)
	for range 5 {
		pp.enqueueDatagram(0, []byte{1}, nil, 0)
	}
	at, _ := departures(pp, 0)
	if want := []int64{0, 0, 10 * ms, 10 * ms, 20 * ms}; !slices.Equal(at, want) {
		t.Errorf("slot 10ms packets 2: departures %v, want %v", at, want)
	}
	// bytes 150 with 100-byte wire packets: a slot closes after two.
	pp = newTestPipe(t, Profile{Slot: Slot{Min: 5 * time.Millisecond, Max: 5 * time.Millisecond, Bytes: 150}}, false)
	for range 3 {
		pp.enqueueDatagram(0, make([]byte, 72), nil, 0)
	}
	if at, _ := departures(pp, 0); !slices.Equal(at, []int64{0, 0, 5 * ms}) {
		t.Errorf("slot 5ms bytes 150: departures %v", at)
	}
	// An idle link abandons its slot: a packet due at 100 ms waits for a
	// slot drawn from then, within [100, 130) ms.
	pp = newTestPipe(t, Profile{Delay: 100 * time.Millisecond, Slot: Slot{Min: 0, Max: 30 * time.Millisecond}}, false)
	pp.enqueueDatagram(0, []byte{1}, nil, 0)
	if at, _ := departures(pp, 0); len(at) != 1 || at[0] < 100*ms || at[0] >= 130*ms {
		t.Errorf("slot 0 30ms after an idle 100 ms: left at %v, want within [100ms, 130ms)", at)
	}
}

// Stream chunks keep their order whatever the jitter; a lost chunk waits
// one RTO (200 ms), doubling per consecutive loss.
func TestStreamOrderAndRetransmission(t *testing.T) {
	pp := newTestPipe(t, Profile{Delay: 100 * time.Millisecond, Jitter: 80 * time.Millisecond}, true)
	for i := range 100 {
		pp.enqueueChunk(int64(i)*ms, []byte{byte(i)}, false)
	}
	at, data := departures(pp, 0)
	for i, d := range data {
		if d[0] != byte(i) {
			t.Fatalf("stream with jitter: chunk %d arrived as %d", d[0], i)
		}
	}
	if !slices.IsSorted(at) {
		t.Errorf("stream due times not in order: %v", at)
	}

	// Kernel-mode random loss 50%: the first two draws lose, the third
	// passes: 200 + 400 ms.
	p := Profile{Delay: 10 * time.Millisecond, Loss: Loss{P: 50}, Mode: ModeKernel}
	pp = newTestPipe(t, p, true)
	pp.rnd = seqRand(0, 0, ^uint32(0))
	pp.enqueueChunk(0, []byte{1}, false)
	if at, _ := departures(pp, 0); len(at) != 1 || at[0] != 610*ms {
		t.Errorf("chunk lost twice: arrives at %v, want [610ms]", at)
	}
	if got := pp.stats.retransmitted.Load(); got != 2 {
		t.Errorf("Retransmitted = %d, want 2", got)
	}
}

// In kernel mode with rate, the delay counts from the last queued
// packet: tts = max(now+delay, last) + tx.
func TestRateWithDelay(t *testing.T) {
	pp := newTestPipe(t, Profile{Delay: 50 * time.Millisecond, Rate: 10_000, Mode: ModeKernel}, false)
	pp.enqueueDatagram(0, make([]byte, 72), nil, 0)      // 50 + 80 = 130
	pp.enqueueDatagram(10*ms, make([]byte, 72), nil, 0)  // max(60, 130) + 80 = 210
	pp.enqueueDatagram(300*ms, make([]byte, 72), nil, 0) // queue... 130, 210 still queued: max(350, 210) + 80 = 430
	at, _ := departures(pp, 0)
	if want := []int64{130 * ms, 210 * ms, 430 * ms}; !slices.Equal(at, want) {
		t.Errorf("delay 50ms rate 10kbit: departures %v, want %v", at, want)
	}
}

// A loss burst hits chunks sent back to back, not the retransmissions an
// RTO later: with Gilbert-Elliott bursts of 10 packets (loss 5 %), a
// chunk's first loss is followed by more only at the long-run rate, so
// retransmissions per lost chunk average 1/(1-0.05) = 1.053 and none
// needs more than a few, where counting the burst in packets would give
// 10 on average and RTO chains of minutes.
func TestStreamRetransmissionsOutlastBursts(t *testing.T) {
	l := Loss{Model: LossGE, P: Percent(100 * 0.05 * 0.1 / 0.95), R: 10}
	if r := float64(l.Rate()); math.Abs(r-5) > 1e-9 {
		t.Fatalf("GE long-run loss %v%%, want 5%%", r)
	}
	pp := newTestPipe(t, Profile{Delay: 10 * time.Millisecond, Loss: l}, true)
	firstLost, maxRetries := 0, 0
	const chunks = 300_000
	for i := range chunks {
		before := pp.stats.retransmitted.Load()
		pp.enqueueChunk(int64(i)*time.Second.Nanoseconds(), []byte{1}, true)
		n := int(pp.stats.retransmitted.Load() - before)
		if n > 0 {
			firstLost++
		}
		maxRetries = max(maxRetries, n)
		pp.q, pp.qhead = pp.q[:0], 0
	}
	per := float64(pp.stats.retransmitted.Load()) / float64(firstLost)
	// Bursts of 10 make the count lumpy: ~1,500 bursts, so +/- 10 %.
	if frac := 100 * float64(firstLost) / chunks; frac < 4.5 || frac > 5.5 {
		t.Errorf("%.2f%% of chunks lost on first send, want 5 +/- 0.5%%", frac)
	}
	if per < 1.03 || per > 1.08 || maxRetries > 5 {
		t.Errorf("%.3f retransmissions per lost chunk (max %d), want 1.053 and a handful at most", per, maxRetries)
	}
}
