package web

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/m2msim/m2msim/report"
)

func TestHistoryDecimates(t *testing.T) {
	h := history{max: 8}
	for i := range 8 {
		h.add(i, []report.Point{{T: float64(i)}})
	}
	h.add(8, []report.Point{{T: 8}})
	want := []float64{0, 2, 4, 5, 6, 7, 8}
	if got := ts(h.pts); !slices.Equal(got, want) {
		t.Errorf("after 9 points in 8: %v, want %v", got, want)
	}
	if !slices.Equal(h.idx, []int{0, 2, 4, 5, 6, 7, 8}) {
		t.Errorf("indices %v do not follow the points", h.idx)
	}
}

func ts(pts []report.Point) []float64 {
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = p.T
	}
	return out
}

// TestHistoryBounded ticks 10,000 times: the history stays within its
// bound, keeps the run's start, its newest points at full resolution, and
// its order.
func TestHistoryBounded(t *testing.T) {
	s, _ := newTest(t, &fakeSource{}, Options{})
	for range 10_000 {
		s.tick()
	}
	s.hub.mu.Lock()
	pts := slices.Clone(s.hub.hist.pts)
	capacity := cap(s.hub.hist.pts)
	next := s.hub.next
	s.hub.mu.Unlock()
	if len(pts) > maxHistory || capacity > maxHistory {
		t.Errorf("history holds %d points (capacity %d), want at most %d", len(pts), capacity, maxHistory)
	}
	if len(pts) < maxHistory/2 {
		t.Errorf("history holds %d points, want at least %d", len(pts), maxHistory/2)
	}
	if next != 10_000 {
		t.Errorf("next = %d, want 10000", next)
	}
	got := ts(pts)
	if got[0] != 1 || got[len(got)-1] != 10_000 {
		t.Errorf("history spans %v to %v, want 1 to 10000", got[0], got[len(got)-1])
	}
	if !slices.IsSorted(got) {
		t.Error("history is out of order")
	}
	for i := len(got) - maxHistory/4; i < len(got); i++ { // the newest quarter: every interval
		if got[i] != got[i-1]+1 {
			t.Fatalf("newest points thinned: %v then %v", got[i-1], got[i])
		}
	}
}

// TestLateJoiner: a viewer that comes after some ticks gets them all as a
// history, then one frame per tick; a second viewer gets the same frames.
func TestLateJoiner(t *testing.T) {
	s, hs := newTest(t, &fakeSource{}, Options{})
	for range 5 {
		s.tick()
	}
	a, _, err := dial(t, hs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := readMessage(t, a)
	if m.Type != "history" || len(m.Points) != 5 || m.Next != 5 || m.MaxPoints != maxHistory || m.Live == nil {
		t.Fatalf("first message: type %q, %d points, next %d, max %d; want a history of 5 points up to 5", m.Type, len(m.Points), m.Next, m.MaxPoints)
	}
	if got := ts(m.Points); !slices.Equal(got, []float64{1, 2, 3, 4, 5}) {
		t.Errorf("history points at %v", got)
	}
	if m.Live.Devices.Connected != 500 {
		t.Errorf("history's live connected = %d, want 500", m.Live.Devices.Connected)
	}
	b, _, err := dial(t, hs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := readMessage(t, b); m.Type != "history" || len(m.Points) != 5 {
		t.Fatalf("second viewer's first message: %q with %d points", m.Type, len(m.Points))
	}
	eventually(t, 5*time.Second, "both viewers registered", func() bool { return s.hub.count() == 2 })
	s.tick()
	s.tick()
	for name, conn := range map[string]*websocket.Conn{"a": a, "b": b} {
		for want := 5; want < 7; want++ {
			m := readMessage(t, conn)
			if m.Type != "frame" || m.From != want || len(m.Points) != 1 || m.Points[0].T != float64(want+1) {
				t.Errorf("viewer %s: %q from %d with %d points, want a frame from %d with one point", name, m.Type, m.From, len(m.Points), want)
			}
		}
	}
}

// TestSlowViewer: a viewer that never reads does not slow the ticker;
// its frames are dropped, its buffer stays bounded, and once it stops
// answering pings it is dropped.
func TestSlowViewer(t *testing.T) {
	s, hs := newTest(t, &fakeSource{}, Options{})
	s.timing = timing{write: 10 * time.Second, ping: time.Hour, pong: time.Hour, close: 100 * time.Millisecond}
	c, _, err := dial(t, hs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c // never reads
	eventually(t, 5*time.Second, "the viewer registered", func() bool { return s.hub.count() == 1 })
	var v *viewer
	s.hub.mu.Lock()
	for v = range s.hub.viewers {
	}
	s.hub.mu.Unlock()

	const ticks = 10_000
	var worst time.Duration
	start := time.Now()
	for range ticks {
		t0 := time.Now()
		s.tick()
		worst = max(worst, time.Since(t0))
		if n := len(v.ch); n > viewerBuffer {
			t.Fatalf("viewer buffer holds %d frames, over %d", n, viewerBuffer)
		}
	}
	took := time.Since(start)
	t.Logf("%d ticks in %v (worst %v), %d frames dropped", ticks, took, worst, v.dropped.Load())
	if worst > time.Second {
		t.Errorf("a tick took %v with a viewer that never reads", worst)
	}
	if v.dropped.Load() == 0 {
		t.Error("no frame dropped for a viewer that never reads")
	}
}

// TestUnresponsiveViewerDropped: a viewer that answers no ping is
// disconnected once its read deadline passes.
func TestUnresponsiveViewerDropped(t *testing.T) {
	s, hs := newTest(t, &fakeSource{}, Options{})
	s.timing = timing{write: time.Second, ping: 20 * time.Millisecond, pong: 200 * time.Millisecond, close: 100 * time.Millisecond}
	c, _, err := dial(t, hs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c // never reads, so never answers a ping
	eventually(t, 5*time.Second, "the viewer registered", func() bool { return s.hub.count() == 1 })
	eventually(t, 5*time.Second, "the silent viewer dropped", func() bool { return s.hub.count() == 0 })
}

// TestCatchUp: a viewer whose frames were dropped gets one frame with
// every point it missed before its next frame; one that missed points
// thinned away gets the whole history again.
func TestCatchUp(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	h := newHub(16)
	v := &viewer{ch: make(chan frame, viewerBuffer), next: -1}
	h.add(v)
	if m := h.catchUp(v); m.Type != "history" || m.Next != 0 || len(m.Points) != 0 {
		t.Fatalf("a new viewer's first message: %q next %d with %d points, want an empty history", m.Type, m.Next, len(m.Points))
	}
	v.next = 0
	live := makeLive(1, 100)
	for i := range viewerBuffer + 3 {
		h.publish(&live, i, []report.Point{makePoint(i, 100)}, log)
	}
	if !v.resync.Load() || v.dropped.Load() != 3 || len(v.ch) != viewerBuffer {
		t.Fatalf("resync %v dropped %d queued %d; want true, 3, %d", v.resync.Load(), v.dropped.Load(), len(v.ch), viewerBuffer)
	}
	m := h.catchUp(v)
	if m.Type != "frame" || m.From != 0 || len(m.Points) != viewerBuffer+3 || len(v.ch) != 0 || v.resync.Load() {
		t.Errorf("catch-up: %q from %d with %d points, %d queued, resync %v; want a frame from 0 with %d points",
			m.Type, m.From, len(m.Points), len(v.ch), v.resync.Load(), viewerBuffer+3)
	}
	v.next = m.end()
	if m := h.catchUp(v); m.Type != "frame" || m.From != viewerBuffer+3 || len(m.Points) != 0 {
		t.Errorf("a viewer up to date catches up with %q from %d with %d points, want an empty frame", m.Type, m.From, len(m.Points))
	}
	for i := viewerBuffer + 3; i < 40; i++ { // thins the points v missed
		h.publish(&live, i, []report.Point{makePoint(i, 100)}, log)
	}
	if m := h.catchUp(v); m.Type != "history" || m.Next != 40 || len(m.Points) > 16 {
		t.Errorf("after thinning: %q next %d with %d points, want the history up to 40", m.Type, m.Next, len(m.Points))
	}
}

func TestHistorySince(t *testing.T) {
	h := history{max: 8}
	for i := range 12 {
		h.add(i, []report.Point{{T: float64(i)}})
	}
	// 0..7, then 0 2 4 5 6 7 8, 9, then 0 4 6 7 8 9 10 11 (roughly)
	for _, tt := range []struct {
		from int
		ok   bool
	}{{12, true}, {11, true}, {9, true}, {1, false}, {0, false}} {
		pts, ok := h.since(tt.from, 12)
		if ok != tt.ok || (ok && len(pts) != 12-tt.from) {
			t.Errorf("since(%d) = %d points, %v; want ok %v (idx %v)", tt.from, len(pts), ok, tt.ok, h.idx)
		}
		if ok && len(pts) > 0 && pts[0].T != float64(tt.from) {
			t.Errorf("since(%d) starts at %v", tt.from, pts[0].T)
		}
	}
}
