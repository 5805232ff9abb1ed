package sim

import (
	"context"
	"sync"
	"time"
)

// job kinds a shard runs.
const (
	jobConnect uint8 = iota + 1
	jobTelemetry
	jobCommand
	jobRequest
	jobPing
	jobLinger
	jobRadio
	jobPage
	jobWake
	jobBurst     // a burst starts; slot counts the device's bursts
	jobBurstSend // one report of a burst; slot is its intended time
)

// connectCarries is a jobConnect's slot when the device has sends
// waiting for the connection (a per-report wake): the connect finishes
// work under way.
const connectCarries = 1

// startsWork reports whether a job starts new work, which stops once the
// engine drains (finishing work under way does not).
func (j job) startsWork() bool {
	switch j.kind {
	case jobConnect:
		return j.slot != connectCarries
	case jobTelemetry, jobCommand, jobRequest, jobBurst, jobBurstSend:
		return true
	}
	return false
}

// job is one due item: run kind for device dev at due, if the device's
// epoch still matches (a stale job is dropped when it comes up, which is
// cheaper than removing it from the heap).
type job struct {
	due   time.Duration
	dev   int32
	kind  uint8
	epoch uint32
	slot  uint64
}

// shard owns one due-time queue and the goroutine that runs it. Devices
// are spread over shards by index; all of a device's jobs go to its shard.
type shard struct {
	mu   sync.Mutex // guards heap and alarm
	heap []job
	wake chan struct{} // buffered 1: the earliest due time moved up
	// alarm, when set, wakes the shard instead of a Go timer and wake
	// (Options.KernelTimers); nil after it failed.
	alarm *alarm
}

// newShard returns a shard with room for jobs queued jobs: a queue of
// millions (one report per sleeping device) then neither doubles its
// memory nor copies itself while the fleet activates.
func newShard(jobs int) *shard {
	return &shard{heap: make([]job, 0, jobs), wake: make(chan struct{}, 1)}
}

// push adds j; it may be called from any goroutine.
func (s *shard) push(j job) {
	s.mu.Lock()
	s.heap = append(s.heap, j)
	i := s.up(len(s.heap) - 1)
	if i == 0 && s.alarm != nil {
		s.alarm.set(0, false) // under mu, so the shard's own setting cannot undo it
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if i == 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *shard) up(i int) int {
	h := s.heap
	for i > 0 {
		p := (i - 1) / 2
		if h[p].due <= h[i].due {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return i
}

func (s *shard) down(i int) {
	h := s.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].due < h[l].due {
			m = r
		}
		if h[i].due <= h[m].due {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// pop removes and returns the earliest job if it is due at now; otherwise
// it returns the time until the earliest job (or -1 for an empty queue).
func (s *shard) pop(now time.Duration) (job, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heap) == 0 {
		return job{}, -1, false
	}
	top := s.heap[0]
	if top.due > now {
		return job{}, top.due - now, false
	}
	last := len(s.heap) - 1
	s.heap[0] = s.heap[last]
	s.heap = s.heap[:last]
	s.down(0)
	return top, 0, true
}

// run fires due jobs through fire until ctx ends. It returns promptly
// after ctx ends; jobs still queued are abandoned.
func (s *shard) run(ctx context.Context, now func() time.Duration, fire func(job, time.Duration)) {
	if s.alarm != nil {
		if s.runAlarm(ctx, now, fire) {
			return
		}
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := time.Hour
		for ctx.Err() == nil {
			n := now()
			j, w, ok := s.pop(n)
			if !ok {
				if w >= 0 {
					wait = w
				}
				break
			}
			fire(j, n)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// runAlarm is run with the shard's alarm in place of a Go timer. It
// reports false, with the alarm dropped, if the alarm failed: run goes on
// with a Go timer.
func (s *shard) runAlarm(ctx context.Context, now func() time.Duration, fire func(job, time.Duration)) bool {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		if s.alarm != nil {
			s.alarm.set(0, false)
		}
		s.mu.Unlock()
	})
	defer stop()
	for {
		for ctx.Err() == nil {
			n := now()
			j, _, ok := s.pop(n)
			if !ok {
				break
			}
			fire(j, n)
		}
		s.mu.Lock()
		switch {
		case ctx.Err() != nil:
			s.mu.Unlock()
			return true
		case len(s.heap) == 0:
			s.alarm.set(0, true)
		default:
			s.alarm.set(s.heap[0].due-now(), false)
		}
		a := s.alarm
		s.mu.Unlock()
		if err := a.wait(); err != nil {
			s.mu.Lock()
			s.alarm = nil
			s.mu.Unlock()
			a.close()
			return false
		}
	}
}
