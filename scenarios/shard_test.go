package scenarios

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// shardWindow bounds how much of each example's schedule the union test
// compares: minutes of virtual time, which synctest runs in no wall time.
const shardWindow = 2 * time.Minute

// schedEvent is one thing the engine did at a time the schedule fixes: a
// connect attempt, a message sent, a command the backend sent.
type schedEvent struct {
	dev  string
	kind string
	at   time.Duration
}

// recording is a fake connector, backend and recorder in one: it accepts
// every connect, acknowledges every message a millisecond later and
// records what the engine asked of it, timed from the engine's start.
type recording struct {
	mu     sync.Mutex
	start  time.Time
	events map[schedEvent]int
	ids    map[int]string // client ID by device
}

func newRecording() *recording {
	return &recording{events: map[schedEvent]int{}, ids: map[int]string{}}
}

func (r *recording) Started(t time.Time) { r.mu.Lock(); r.start = t; r.mu.Unlock() }
func (r *recording) Record(sim.Event)    {}

func (r *recording) add(dev, kind string) {
	r.mu.Lock()
	r.events[schedEvent{dev, kind, time.Since(r.start)}]++
	r.mu.Unlock()
}

func (r *recording) Connect(_ context.Context, spec sim.ConnectSpec, h sim.Handler) (sim.Session, error) {
	r.mu.Lock()
	r.ids[spec.Device] = spec.ClientID
	r.mu.Unlock()
	r.add(fmt.Sprint(spec.Device), "connect")
	return &recSession{r: r, dev: spec.Device, h: h}, nil
}

func (r *recording) Subscribe(context.Context, []sim.Subscription, func(sim.Delivery)) error {
	return nil
}

func (r *recording) Publish(_ context.Context, m sim.Outbound) error {
	r.add(m.Topic, "command")
	return nil
}

type recSession struct {
	r   *recording
	dev int
	h   sim.Handler
}

func (s *recSession) Send(m sim.Message) error {
	s.r.add(fmt.Sprint(s.dev), fmt.Sprintf("send/%d", m.Flow))
	ref := m.Ref
	time.AfterFunc(time.Millisecond, func() { s.h.Acked(ref) })
	return nil
}

func (s *recSession) Close() error { return nil }

// runRecorded runs plan's shard part under a recording connector inside a
// synctest bubble and returns what it recorded before cut.
func runRecorded(t *testing.T, plan *sim.Plan, part sim.Part, cut time.Duration) *recording {
	t.Helper()
	rec := newRecording()
	synctest.Test(t, func(t *testing.T) {
		e, err := sim.New(plan, sim.Options{Connector: rec, Receiver: rec, Sender: rec, Recorder: rec, Part: part})
		if err != nil {
			t.Fatalf("shard %d/%d: %v", part.Index, part.Count, err)
		}
		if err := e.Run(t.Context()); err != nil {
			t.Fatalf("shard %d/%d: run: %v", part.Index, part.Count, err)
		}
	})
	for ev := range rec.events {
		if ev.at >= cut {
			delete(rec.events, ev)
		}
	}
	return rec
}

// TestShardsUnionIsTheWholeSchedule runs every example once whole and
// once per shard (N = 1 and N = 3) and checks that the shards together
// connect, send and command every device at exactly the times one process
// does, and that client IDs follow from the device alone.
func TestShardsUnionIsTheWholeSchedule(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			plan := s.Plan()
			if plan.Seed == 0 {
				plan.Seed = 12
			}
			plan.Duration = min(plan.Duration, window(plan))
			plan.Drain = time.Second
			cut := plan.Duration - time.Second
			whole := runRecorded(t, plan, sim.Part{}, cut)
			if len(whole.events) == 0 {
				t.Fatal("the whole run recorded nothing")
			}
			for _, n := range []int{1, 3} {
				union := map[schedEvent]int{}
				owner := map[string]int{} // client ID -> shard
				for i := range n {
					part := runRecorded(t, plan, sim.Part{Index: i, Count: n}, cut)
					for ev, c := range part.events {
						union[ev] += c
					}
					for dev, id := range part.ids {
						if want := whole.ids[dev]; id != want {
							t.Errorf("N=%d shard %d: device %d has client ID %q, %q in one process", n, i, dev, id, want)
						}
						if o, ok := owner[id]; ok && o != i {
							t.Errorf("N=%d: client ID %q used by shards %d and %d", n, id, o, i)
						}
						owner[id] = i
					}
				}
				if sharedMedium(plan) {
					// Each process models its own gateway's channel:
					// frames of devices in different shards never
					// collide, so the shards send all the whole run
					// sends, and frames it lost besides.
					for ev := range union {
						if whole.events[ev] == 0 {
							union[ev] = 0
							delete(union, ev)
						}
					}
				}
				if diff := diffEvents(whole.events, union); diff != "" {
					t.Errorf("N=%d: the shards' schedule differs from the whole (%d events whole, first %v):\n%s",
						n, total(whole.events), cut, diff)
				}
			}
		})
	}
}

// window is how much of plan's schedule the test compares: shardWindow,
// or less for a fleet that would send more than about 40,000 messages in
// it at full strength (at least 5 s), to keep each run to a second or so.
func window(p *sim.Plan) time.Duration {
	rate := 0.0
	for _, g := range p.Groups {
		if t := g.Telemetry; t != nil && t.Every > 0 {
			rate += float64(g.Count) / t.Every.Seconds()
		}
	}
	if rate == 0 {
		return shardWindow
	}
	w := time.Duration(40000 / rate * float64(time.Second))
	return min(shardWindow, max(5*time.Second, w))
}

// sharedMedium says whether a group's frames share a channel (LoRa), where
// devices' fates depend on each other.
func sharedMedium(p *sim.Plan) bool {
	for _, g := range p.Groups {
		if g.Radio != nil && g.Radio.Channels > 0 {
			return true
		}
	}
	return false
}

func total(m map[schedEvent]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// diffEvents lists up to ten events whose counts differ, earliest first.
func diffEvents(want, got map[schedEvent]int) string {
	var diff []schedEvent
	for ev, c := range want {
		if got[ev] != c {
			diff = append(diff, ev)
		}
	}
	for ev := range got {
		if _, ok := want[ev]; !ok {
			diff = append(diff, ev)
		}
	}
	sort.Slice(diff, func(i, j int) bool { return diff[i].at < diff[j].at })
	var b strings.Builder
	for i, ev := range diff {
		if i == 10 {
			fmt.Fprintf(&b, "... %d more\n", len(diff)-10)
			break
		}
		fmt.Fprintf(&b, "  device %s %s at %v: whole %d, shards %d\n", ev.dev, ev.kind, ev.at, want[ev], got[ev])
	}
	return b.String()
}
