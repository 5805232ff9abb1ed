package netem

import (
	"context"
	"sync"
	"time"
)

// flusher is a conn's uplink as its shard sees it.
type flusher interface {
	// flush sends what is due at now and returns when to call it again
	// (0: nothing queued).
	flush(now int64) int64
	// abort drops the queue once the shard has stopped.
	abort()
}

// task is a conn's place in its shard's heap.
type task struct {
	idx  int   // heap index, -1 when not queued; guarded by shard.mu
	wake int64 // guarded by shard.mu
	f    flusher
}

// shard is one due-time queue and its goroutine.
type shard struct {
	s       *Shaper
	mu      sync.Mutex // guards h, stopped, and the idx and wake of every task
	h       []*task    // min-heap by wake
	stopped bool
	kick    chan struct{} // wakes run when a new earliest task arrives
	up      counters
	down    counters
}

// schedule makes sure t is flushed no later than wake (> 0). It returns
// false once the shard has stopped.
func (sh *shard) schedule(t *task, wake int64) bool {
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		return false
	}
	switch {
	case t.idx < 0:
		t.wake, t.idx = wake, len(sh.h)
		sh.h = append(sh.h, t)
		sh.siftUp(t.idx)
	case wake < t.wake:
		t.wake = wake
		sh.siftUp(t.idx)
	}
	first := sh.h[0] == t
	sh.mu.Unlock()
	if first {
		select {
		case sh.kick <- struct{}{}:
		default:
		}
	}
	return true
}

func (sh *shard) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := sh.s.now()
		for t := sh.popDue(now); t != nil; t = sh.popDue(now) {
			if next := t.f.flush(now); next != 0 {
				sh.schedule(t, next)
			}
		}
		if next, ok := sh.next(); ok {
			timer.Reset(time.Duration(next - sh.s.now()))
		}
		select {
		case <-ctx.Done():
			sh.stop()
			return
		case <-timer.C:
		case <-sh.kick:
		}
	}
}

func (sh *shard) popDue(now int64) *task {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.h) == 0 || sh.h[0].wake > now {
		return nil
	}
	t := sh.h[0]
	last := len(sh.h) - 1
	sh.swap(0, last)
	sh.h[last] = nil
	sh.h = sh.h[:last]
	if last > 0 {
		sh.siftDown(0)
	}
	t.idx = -1
	return t
}

func (sh *shard) next() (int64, bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.h) == 0 {
		return 0, false
	}
	return sh.h[0].wake, true
}

// stop marks the shard stopped and aborts every queued conn.
func (sh *shard) stop() {
	sh.mu.Lock()
	sh.stopped = true
	h := sh.h
	sh.h = nil
	for _, t := range h {
		t.idx = -1
	}
	sh.mu.Unlock()
	for _, t := range h {
		t.f.abort()
	}
}

func (sh *shard) isStopped() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.stopped
}

func (sh *shard) swap(i, j int) {
	sh.h[i], sh.h[j] = sh.h[j], sh.h[i]
	sh.h[i].idx, sh.h[j].idx = i, j
}

func (sh *shard) siftUp(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if sh.h[p].wake <= sh.h[i].wake {
			return
		}
		sh.swap(i, p)
		i = p
	}
}

func (sh *shard) siftDown(i int) {
	n := len(sh.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && sh.h[r].wake < sh.h[l].wake {
			m = r
		}
		if sh.h[i].wake <= sh.h[m].wake {
			return
		}
		sh.swap(i, m)
		i = m
	}
}
