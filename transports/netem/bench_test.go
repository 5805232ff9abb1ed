package netem

import (
	"net"
	"testing"
	"time"
)

// Per-packet shaping: one datagram enqueued (duplicate/loss/corrupt
// draws, delay draw, tfifo insert) and one dequeued, at a steady queue of
// about 50 packets.
func BenchmarkPipeDatagram(b *testing.B) {
	for _, m := range []Mode{ModeModel, ModeKernel} {
		b.Run(m.String(), func(b *testing.B) {
			p := Profile{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond, Distribution: Normal, Loss: Loss{P: 1}, Mode: m}
			pp := newTestPipe(b, p, false)
			payload := make([]byte, 64)
			b.ReportAllocs()
			now := int64(0)
			for b.Loop() {
				now += int64(time.Millisecond)
				pp.enqueueDatagram(now, payload, nil, 0)
				for {
					it, ok, _ := pp.dequeue(now)
					if !ok {
						break
					}
					putBuf(it.buf)
				}
			}
		})
	}
}

// One stream chunk through the in-order path with rate.
func BenchmarkPipeChunk(b *testing.B) {
	pp := newTestPipe(b, Profile{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond, Rate: 1e9}, true)
	payload := make([]byte, 64)
	b.ReportAllocs()
	now := int64(0)
	for b.Loop() {
		now += int64(time.Millisecond)
		pp.enqueueChunk(now, payload, true)
		for {
			it, ok, _ := pp.dequeue(now)
			if !ok {
				break
			}
			putBuf(it.buf)
		}
	}
}

func BenchmarkTabledist(b *testing.B) {
	r := testRand(1)
	c := crand{rho: Percent(25).prob()}
	t := Normal.table()
	b.ReportAllocs()
	var sink int64
	for b.Loop() {
		sink += tabledist(100e6, 20e6, &c, r, t)
	}
	_ = sink
}

func BenchmarkModelDelay(b *testing.B) {
	g := newDelayGen(Profile{Delay: 100e6, Jitter: 20e6, DelayCorr: 50, Distribution: Pareto}, testRand(1))
	r := testRand(2)
	b.ReportAllocs()
	var sink int64
	for b.Loop() {
		sink += g.draw(r)
	}
	_ = sink
}

// discard is a PacketConn that drops what it is sent.
type discard struct{ net.PacketConn }

func (discard) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (discard) SetWriteDeadline(time.Time) error          { return nil }
func (discard) SetReadDeadline(time.Time) error           { return nil }
func (discard) LocalAddr() net.Addr                       { return memAddr("discard") }

// A shaped WriteTo end to end: enqueue, the shard's wake-up and its send.
func BenchmarkPacketConnWriteTo(b *testing.B) {
	s := NewShaper(1)
	stop := runShaperB(b, s)
	defer stop()
	c := s.PacketConn(discard{}, Link{Up: Profile{Delay: time.Microsecond}}, 1, 0)
	payload := make([]byte, 64)
	to := memAddr("x")
	b.ReportAllocs()
	for b.Loop() {
		c.WriteTo(payload, to)
	}
	eventually(b, 5*time.Second, func() bool { st, _ := StatsOf(c); return st.Up.Queued == 0 }, "queue did not drain")
}
