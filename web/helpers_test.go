package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/m2msim/m2msim/report"
)

// fakeSource is a run that completes one interval each time Live is
// called: its connected devices rise by 100 an interval (or by rise) up
// to 1,000.
type fakeSource struct {
	rise  int64 // devices connected per interval; 100 when 0
	mu    sync.Mutex
	n     int // intervals complete
	calls int // calls of Live and Points
}

func (f *fakeSource) Live() report.Live {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.calls++
	return makeLive(f.n, f.connected(f.n))
}

func (f *fakeSource) Points(from int) []report.Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var pts []report.Point
	for i := from; i < f.n; i++ {
		pts = append(pts, makePoint(i, f.connected(i+1)))
	}
	return pts
}

// connected is how many devices are connected after n intervals.
func (f *fakeSource) connected(n int) int64 {
	rise := f.rise
	if rise == 0 {
		rise = 100
	}
	return min(1000, rise*int64(n))
}

func (f *fakeSource) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

var metricNames = []string{"connect", "ack", "e2e", "command", "request"}

// makeLive is a realistic Live after n intervals with c devices
// connected: 5 latency metrics, 4 groups (one with a radio), thresholds,
// errors and a warning.
func makeLive(n int, c int64) report.Live {
	lat := map[string]report.Quantiles{}
	for i, m := range metricNames {
		base := float64(5 * (i + 1))
		lat[m] = report.Quantiles{Count: 100 * int64(n), P50: base, P90: 2 * base, P99: 4 * base, Max: 8 * base}
	}
	groups := make([]report.LiveGroup, 4)
	for i := range groups {
		groups[i] = report.LiveGroup{Name: fmt.Sprintf("group-%d", i), Devices: 250, Sent: int64(n * 100 * (i + 1)), Received: int64(n * 99 * (i + 1)), Errors: int64(i)}
	}
	groups[3].Radio = &report.RadioPoint{AirtimeS: 1.5, Deferred: 3, Collisions: 1, DownlinkWaitMS: 800}
	return report.Live{
		Name: "fleet-soak", File: "scenarios/soak.yaml", Seed: 42, Phase: report.PhaseRunning,
		ElapsedS: float64(n), PlannedS: 600, Stage: "ramp", StageIndex: 0, Stages: []string{"ramp", "steady"},
		Planned: 1000, Devices: report.DeviceStates{Connecting: 20, Connected: c, Sleeping: 5, Offline: 1000 - c - 25},
		Totals:  map[string]int64{"sent": int64(n) * 1000, "acked": int64(n) * 990, "received": int64(n) * 980},
		WindowS: min(10, float64(n)),
		Rates:   map[string]float64{"sent": 1000, "acked": 990, "received": 980, "connects": 100, "errors": 0.5},
		Latency: lat,
		Errors:  map[string]int64{"timeout": int64(n), "refused": 2},
		Thresholds: []report.ThresholdResult{
			{Expr: "latency.e2e.p99 < 250ms", Actual: report.Judged{V: 80}, Passed: true},
			{Expr: "messages.loss_pct < 1%", Actual: report.Judged{V: 2}, Passed: false, Reason: "2 is not < 1"},
			{Expr: "latency.command.p99 < 1s", Actual: report.Judged{Beyond: true}, Passed: false, Reason: "beyond every finished flow"},
		},
		Warnings: []string{"the backend fell behind: its lag p99 is 340 ms"},
		Groups:   groups,
	}
}

// makePoint is interval i of the fake run, which ends with c devices
// connected.
func makePoint(i int, c int64) report.Point {
	lat := map[string]report.Quantiles{}
	for j, m := range metricNames {
		base := float64(5*(j+1)) + float64(i%7)
		lat[m] = report.Quantiles{Count: 100, P50: base, P90: 2 * base, P99: 4 * base, Max: 8 * base}
	}
	return report.Point{
		T: float64(i + 1), Stage: "ramp", Active: 1000,
		Devices: report.DeviceStates{Connecting: 20, Connected: c, Sleeping: 5, Offline: 1000 - c - 25},
		Rates:   map[string]float64{"sent": 1000 + float64(i%5*10), "acked": 990, "received": 980, "errors": float64(i % 3)},
		Latency: lat,
		Errors:  map[string]int64{"timeout": int64(i % 3)},
		Radio:   &report.RadioPoint{AirtimeS: 0.1, Deferred: 1},
		Self:    report.Self{ScheduleLagMS: 0.3, CPUPct: 12, OpenFiles: 1040, OpenFilesMax: 65536},
	}
}

// eventually polls cond until it holds, failing the test at the deadline.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newTest returns a Server that is not started (the test ticks it) and an
// httptest server on loopback serving its handler.
func newTest(t testing.TB, src Source, o Options) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(src, o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.handler)
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, hs
}

// dial opens a WebSocket to hs's /ws with the given token and headers.
func dial(t testing.TB, hs *httptest.Server, tok string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	if tok != "" {
		u += "?token=" + url.QueryEscape(tok)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(u, h)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

// readMessage reads one message from c within 5 seconds.
func readMessage(t testing.TB, c *websocket.Conn) message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("reading from the websocket: %v", err)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding %q: %v", b[:min(len(b), 200)], err)
	}
	return m
}
