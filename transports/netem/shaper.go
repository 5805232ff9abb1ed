package netem

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
)

// ErrStopped is returned by writes on a shaped conn once its Shaper's Run
// has returned: nothing would deliver the data any more.
var ErrStopped = errors.New("netem: shaper stopped")

// ErrRunning is returned by Run when the Shaper already runs.
var ErrRunning = errors.New("netem: shaper already running")

// Shaper owns the due-time queues that every shaped conn of a fleet
// shares: one heap of conns per shard, ordered by when each conn's uplink
// next has a packet to send, and one goroutine per shard that sends it.
// Downlinks need no goroutine: the reader waits. A Shaper is safe for
// concurrent use; its conns work only while Run runs.
type Shaper struct {
	epoch   time.Time
	shards  []*shard
	running atomic.Bool
}

// NewShaper returns a Shaper with n shards (n <= 0: GOMAXPROCS). Conns of
// one device share a shard.
func NewShaper(n int) *Shaper {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s := &Shaper{epoch: time.Now(), shards: make([]*shard, n)}
	for i := range s.shards {
		s.shards[i] = &shard{s: s, kick: make(chan struct{}, 1)}
	}
	return s
}

// Run sends the shaped uplink traffic until ctx ends, then returns after
// its goroutines. Cancellation is not an error. Queued packets are then
// dropped and conns whose Close waited for their queue are closed.
func (s *Shaper) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	var wg sync.WaitGroup
	for _, sh := range s.shards {
		wg.Go(func() { sh.run(ctx) })
	}
	wg.Wait()
	return nil
}

// Stats sums the counters of every conn the Shaper made.
func (s *Shaper) Stats() Stats {
	var st Stats
	for _, sh := range s.shards {
		st.Up = st.Up.add(sh.up.snapshot())
		st.Down = st.Down.add(sh.down.snapshot())
	}
	return st
}

// now is the shaper's clock: ns since its epoch, monotonic.
func (s *Shaper) now() int64 { return int64(time.Since(s.epoch)) }

// at converts a shaper time to a time.Time.
func (s *Shaper) at(ns int64) time.Time { return s.epoch.Add(time.Duration(ns)) }

// deadline converts a caller's deadline to shaper time: 0 for none, at
// least 1 for one in the past.
func (s *Shaper) deadline(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(1, int64(t.Sub(s.epoch)))
}

func (s *Shaper) shard(device int) *shard {
	n := len(s.shards)
	return s.shards[((device%n)+n)%n]
}

// Validate checks both directions; problems are prefixed "up " or "down ".
func (l Link) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		p    Profile
	}{{"up", l.Up}, {"down", l.Down}} {
		if err := d.p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s %w", d.name, err))
		}
	}
	return errors.Join(errs...)
}

// Dialer returns a dial.Func whose conns are shaped by l, seeded from
// (seed, device) and the number of conns the Func dialed before, so a
// device's reconnections draw fresh but reproducible numbers. Datagram
// networks (udp*, ip*, unixgram) get datagram shaping, the others stream
// shaping. A stream dial returns after one shaped round trip more, the
// SYN and SYN-ACK the kernel exchanged unshaped; a lost SYN costs Linux's
// 1 s initial RTO, doubling. An invalid l fails every dial.
func (s *Shaper) Dialer(next dial.Func, l Link, seed uint64, device int) dial.Func {
	var conns atomic.Uint64
	return s.dialer(next, l, seed, device, func() uint64 { return conns.Add(1) - 1 })
}

// DialerFor is Dialer for a caller that numbers a device's connections
// itself and makes a Func per connection: its conns are seeded from
// (seed, device, conn).
func (s *Shaper) DialerFor(next dial.Func, l Link, seed uint64, device int, conn uint64) dial.Func {
	return s.dialer(next, l, seed, device, func() uint64 { return conn })
}

func (s *Shaper) dialer(next dial.Func, l Link, seed uint64, device int, number func() uint64) dial.Func {
	verr := l.Validate()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if verr != nil {
			return nil, fmt.Errorf("netem: dial %s: %w", addr, verr)
		}
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		k := number()
		if isDatagram(network) {
			pc, _ := c.(net.PacketConn)
			return s.newPacketConn(pc, c, l, seed, device, k), nil
		}
		sc := s.newStreamConn(c, l, seed, device, k)
		if err := sleepCtx(ctx, sc.handshake()); err != nil {
			c.Close()
			return nil, fmt.Errorf("netem: dial %s: %w", addr, err)
		}
		return sc, nil
	}
}

// Conn shapes c by l, seeded from (seed, device). A c that is also a
// net.PacketConn (a dialed *net.UDPConn) is shaped as datagrams, anything
// else as a stream. l should be valid (Link.Validate).
func (s *Shaper) Conn(c net.Conn, l Link, seed uint64, device int) net.Conn {
	if pc, ok := c.(net.PacketConn); ok {
		return s.newPacketConn(pc, c, l, seed, device, 0)
	}
	return s.newStreamConn(c, l, seed, device, 0)
}

// PacketConn shapes the datagrams of c by l, seeded from (seed, device):
// Up is what c sends, Down what it receives. l should be valid.
func (s *Shaper) PacketConn(c net.PacketConn, l Link, seed uint64, device int) net.PacketConn {
	nc, _ := c.(net.Conn)
	return s.newPacketConn(c, nc, l, seed, device, 0)
}

func isDatagram(network string) bool {
	return strings.HasPrefix(network, "udp") || strings.HasPrefix(network, "ip") || network == "unixgram"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Directions, for seeding.
const (
	dirUp   = 1
	dirDown = 2
)
