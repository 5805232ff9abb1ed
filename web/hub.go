package web

import (
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/m2msim/m2msim/report"
)

// message is what the WebSocket carries, as JSON: a "history" first, the
// intervals so far, then a "frame" per tick with the intervals since. A
// viewer that fell behind gets one frame with every interval it missed
// (or a new history, if some were thinned away meanwhile).
type message struct {
	Type string       `json:"type"` // "history" or "frame"
	Live *report.Live `json:"live"`
	// From is the run's index of a frame's first point. Next, in a
	// history, is the index after its last point: the From of the frame
	// that follows (a history's points are not contiguous once thinned).
	// A page that sees a frame with From < Next skips the points it
	// already has.
	From   int            `json:"from"`
	Next   int            `json:"next,omitempty"`
	Points []report.Point `json:"points"`
	// MaxPoints, in a history, is how many points the page keeps before
	// it thins the older half, as the server does.
	MaxPoints int `json:"max_points,omitempty"`
	// Report is the finished report's path, once the run is over.
	Report string `json:"report,omitempty"`
}

// end is the index after the message's last point: where the page's
// next frame starts.
func (m *message) end() int {
	if m.Type == "history" {
		return m.Next
	}
	return m.From + len(m.Points)
}

// frame is one tick's message, encoded once for every viewer.
type frame struct {
	b    []byte
	next int // the end of its points
}

// reportPath is where the finished report is served (relative to the page).
const reportPath = "report"

// hub holds what the ticker pulled and the viewers it goes to.
type hub struct {
	latest   atomic.Pointer[report.Live] // the last Live pulled; read by /metrics without a lock
	finished atomic.Bool                 // Finish was called: messages carry Report
	report   atomic.Pointer[[]byte]      // the finished report's HTML

	mu      sync.Mutex // guards the fields below; never held while calling the Source or writing to a connection
	hist    history
	next    int // the index after the last point in hist
	viewers map[*viewer]struct{}
	badJSON bool // a frame failed to encode (logged once)
}

func newHub(max int) *hub {
	return &hub{hist: history{max: max}, viewers: make(map[*viewer]struct{})}
}

func (h *hub) reportRef() string {
	if h.finished.Load() {
		return reportPath
	}
	return ""
}

// publish records one tick's Live and points and offers the frame to
// every viewer. It never blocks on a viewer.
func (h *hub) publish(live *report.Live, from int, pts []report.Point, log *slog.Logger) {
	h.latest.Store(live)
	b, err := json.Marshal(message{Type: "frame", Live: live, From: from, Points: nonNil(pts), Report: h.reportRef()})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hist.add(from, pts)
	h.next = from + len(pts)
	if err != nil {
		if !h.badJSON {
			log.Error("live view: cannot encode a frame; viewers miss it (logged once)", "err", err)
			h.badJSON = true
		}
		return
	}
	f := frame{b: b, next: h.next}
	for v := range h.viewers {
		v.offer(f)
	}
}

// republish sends the last Live again, without points: Finish uses it when
// no ticker runs.
func (h *hub) republish(log *slog.Logger) {
	h.mu.Lock()
	from := h.next
	h.mu.Unlock()
	h.publish(h.latest.Load(), from, nil, log)
}

// catchUp empties v's buffer and returns the message that replaces what
// it held: a frame with every point v has not had, or, when some of them
// have been thinned away or v has had nothing yet, the whole history.
// Every frame published after it follows it in v's buffer.
func (h *hub) catchUp(v *viewer) message {
	h.mu.Lock()
	defer h.mu.Unlock()
	v.drain()
	v.resync.Store(false)
	if v.next >= 0 {
		if pts, ok := h.hist.since(v.next, h.next); ok {
			return message{Type: "frame", Live: h.latest.Load(), From: v.next, Points: pts, Report: h.reportRef()}
		}
	}
	return message{
		Type:      "history",
		Live:      h.latest.Load(),
		Next:      h.next,
		Points:    nonNil(slices.Clone(h.hist.pts)),
		MaxPoints: h.hist.max,
		Report:    h.reportRef(),
	}
}

func (h *hub) add(v *viewer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.viewers[v] = struct{}{}
}

func (h *hub) remove(v *viewer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.viewers, v)
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.viewers)
}

// closeAll closes every viewer's connection at once: Close's last resort.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for v := range h.viewers {
		v.conn.Close()
	}
}

func nonNil(pts []report.Point) []report.Point {
	if pts == nil {
		return []report.Point{}
	}
	return pts
}
