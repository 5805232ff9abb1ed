package sim

import (
	"context"
	"sync"
	"testing"
	"time"
)

// lagRecorder keeps the schedule lag of every message sent.
type lagRecorder struct {
	mu   sync.Mutex
	lags []time.Duration
}

func (r *lagRecorder) Record(ev Event) {
	if ev.Kind == Published {
		r.mu.Lock()
		r.lags = append(r.lags, ev.Latency)
		r.mu.Unlock()
	}
}

// A per-report device's schedule lag is how late the generator fired its
// report, the wake's start: the connect that follows is the device's.
// Every job here fires 7 ms after its due time, and the connections
// come up later still (the run clock is past every due time), which must
// not hide the 7 ms.
func TestPerReportLagIsTheGeneratorsLateness(t *testing.T) {
	const n, late = 20, 7 * time.Millisecond
	rec := &lagRecorder{}
	e, err := New(sleepyPlan(n), Options{Connector: instantConnector{}, Recorder: rec, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.start = time.Now().Add(-20 * time.Minute)
	e.runCtx = context.Background()
	e.setLevel(0, n)
	sc := new(scratch)
	for more := true; more; {
		more = false
		for _, s := range e.shards {
			for {
				j, _, ok := s.pop(15 * time.Minute)
				if !ok {
					break
				}
				e.fire(j, j.due+late, sc)
				more = true
			}
		}
		e.dials.Wait()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.lags) < n*9/10 {
		t.Fatalf("%d reports sent, want about one per device (%d)", len(rec.lags), n)
	}
	for i, l := range rec.lags {
		if l != late {
			t.Errorf("report %d: schedule lag %s, want the %s the generator fired late", i, l, late)
		}
	}
}
