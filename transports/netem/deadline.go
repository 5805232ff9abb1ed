package netem

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// aLongTimeAgo is a deadline that has always passed: it wakes a blocked
// read at once.
var aLongTimeAgo = time.Unix(1, 0)

// readDeadline merges the caller's read deadline with the reader's own
// wake-up (the head packet's due time) into the one deadline the
// underlying conn has. Because every change to that deadline goes through
// mu, a deadline set by the caller or by Close while a read is blocked
// always takes effect.
type readDeadline struct {
	mu      sync.Mutex // guards the fields and the underlying read deadline
	set     func(time.Time) error
	s       *Shaper
	caller  int64 // shaper time; 0: none
	wake    int64 // shaper time; 0: none
	applied int64 // what the underlying conn has; -1: unknown
	closed  bool
}

func newReadDeadline(s *Shaper, set func(time.Time) error) *readDeadline {
	return &readDeadline{s: s, set: set, applied: -1}
}

// arm prepares a blocking read that should return by wake (0: only the
// caller's deadline counts). It fails once the conn is closed.
func (d *readDeadline) arm(wake int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return net.ErrClosed
	}
	d.wake = wake
	return d.applyLocked()
}

// setCaller records the caller's deadline and applies it.
func (d *readDeadline) setCaller(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.caller = d.s.deadline(t)
	if d.closed {
		return nil
	}
	return d.applyLocked()
}

// expired reports whether the caller's deadline has passed at now.
func (d *readDeadline) expired(now int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.caller != 0 && now >= d.caller
}

// callerDeadline returns the caller's deadline, 0 for none.
func (d *readDeadline) callerDeadline() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.caller
}

// close wakes a blocked read for good.
func (d *readDeadline) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.set(aLongTimeAgo)
}

func (d *readDeadline) applyLocked() error {
	eff := earliest(d.caller, d.wake)
	if eff == d.applied {
		return nil
	}
	t := time.Time{}
	if eff != 0 {
		t = d.s.at(eff)
	}
	if err := d.set(t); err != nil {
		return err
	}
	d.applied = eff
	return nil
}

// earliest returns the earlier of two shaper times, 0 meaning none.
func earliest(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// opError wraps err the way the net package does, so callers can test it
// with errors.Is and net.Error.
func opError(op string, c interface{ LocalAddr() net.Addr }, remote net.Addr, err error) error {
	local := c.LocalAddr()
	netw := ""
	if local != nil {
		netw = local.Network()
	}
	return &net.OpError{Op: op, Net: netw, Source: local, Addr: remote, Err: err}
}
