package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/chromium"
	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/sim"
)

// liveURL waits for the line naming the live view's URL on p's stdout.
func liveURL(t *testing.T, p *process, within time.Duration) string {
	t.Helper()
	var u string
	eventually(t, within, "the live view's URL on stdout", func() bool {
		sc := bufio.NewScanner(strings.NewReader(readFile(p.stdout)))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "live view: "); ok {
				u = strings.TrimSpace(rest)
				return true
			}
		}
		if !p.running() {
			t.Fatalf("m2msim exited (%v) before printing the live view's URL", p.cmd.ProcessState)
		}
		return false
	})
	return u
}

// connectedOnPage reads the live view's connected-devices figure
// ("123 / 300"), -1 while it shows no number.
func connectedOnPage(t *testing.T, ctx context.Context) int {
	t.Helper()
	text := chromium.Eval[string](t, ctx, `document.getElementById('f-connected').textContent`)
	n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(strings.Split(text, "/")[0]), ",", ""))
	if err != nil {
		return -1
	}
	return n
}

// waitExit waits for p to exit and returns its exit code.
func waitExit(t *testing.T, p *process, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("m2msim still running after %v", within)
		return -1
	}
}

// liveScenario ramps 300 devices in over 10 s against the embedded
// broker: long enough that a page opened on a loaded machine still sees
// the fleet grow.
const liveScenario = `version: 1
name: live
seed: 11
duration: 14s
target: {broker: embedded}
groups:
  - {name: d, count: 300, connect: {rate: 30/s}, telemetry: {every: 1s, qos: 1}}
`

// The live view of a real run, in a browser: the connected figure rises
// while the fleet ramps in, the devices chart draws, nothing breaks the
// page's CSP, and once the run is over the page says so and report.html
// is on disk.
func TestBrowserLiveViewDuringARun(t *testing.T) {
	ctx := chromium.New(t)
	out := filepath.Join(t.TempDir(), "out")
	p := startBinary(t, "run", writeScenario(t, liveScenario), "--out", out)
	if err := chromium.Open(ctx, liveURL(t, p, 30*time.Second)); err != nil {
		t.Fatal(err)
	}

	first := -1
	eventually(t, 20*time.Second, "the page shows how many devices are connected", func() bool {
		first = connectedOnPage(t, ctx)
		return first >= 0
	})
	eventually(t, 20*time.Second, "the connected figure rises", func() bool { return connectedOnPage(t, ctx) > first })
	eventually(t, 20*time.Second, "the devices chart draws more than one point", func() bool {
		return chromium.Eval[int](t, ctx, `(() => { const c = window.m2msim.charts.devices; return c ? c.plot.data[0].length : 0 })()`) > 1
	})
	shot := filepath.Join(chromium.ScreenshotDir(t), "live-run.png")
	if err := chromium.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	if code := waitExit(t, p, 90*time.Second); code != exitOK {
		t.Fatalf("m2msim exit %d, want %d", code, exitOK)
	}
	if fi, err := os.Stat(filepath.Join(out, "report.html")); err != nil || fi.Size() == 0 {
		t.Errorf("report.html: %v", err)
	}
	eventually(t, 10*time.Second, "the page says the run is finished", func() bool {
		return chromium.Eval[string](t, ctx, `document.getElementById('phase').textContent`) == "finished"
	})
	if v := chromium.Eval[[]string](t, ctx, `window.m2msim.cspViolations`); len(v) != 0 {
		t.Errorf("the page broke its Content-Security-Policy: %v", v)
	}
}

// kneeStages are the stages of writeKneeResult: four loads, each ramped
// in over 1 s and held for 6 s, the last far past the knee.
var kneeStages = []struct {
	devices int
	ackMS   float64 // acknowledgement latency while at this load
}{{100, 2}, {200, 2.4}, {300, 3}, {400, 45}}

// writeKneeResult records a staged run whose latency climbs sharply at
// its last load into dir/result.json, and returns its path.
func writeKneeResult(t *testing.T, dir string) string {
	t.Helper()
	th, err := report.ParseThreshold("latency.e2e.p99 < 20ms")
	if err != nil {
		t.Fatal(err)
	}
	var stages []sim.Stage
	for _, s := range kneeStages {
		stages = append(stages,
			sim.Stage{Name: fmt.Sprintf("ramp-%d", s.devices), Duration: time.Second, Devices: s.devices},
			sim.Stage{Name: fmt.Sprintf("hold-%d", s.devices), Duration: 6 * time.Second, Devices: s.devices})
	}
	last := kneeStages[len(kneeStages)-1].devices
	run := time.Duration(len(stages)/2) * 7 * time.Second
	c := report.NewCollector(report.Info{Name: "knee", File: "knee.yaml", Seed: 5, Devices: last, Duration: run,
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Stages: stages,
		Groups: []report.GroupInfo{{Name: "sensors", Devices: last}}, Thresholds: []report.Threshold{th}})
	for i, s := range kneeStages {
		recordLoad(c, time.Duration(i)*7*time.Second, s.devices, s.ackMS)
	}
	r := c.Result(report.StatusPassed, run)
	report.Evaluate(r, []report.Threshold{th})
	path := filepath.Join(dir, "result.json")
	if err := report.WriteJSON(path, r); err != nil {
		t.Fatal(err)
	}
	return path
}

// recordLoad records 7 s of devices reporting once a second from start,
// acknowledged and delivered after about ackMS, and a census each second.
func recordLoad(c *report.Collector, start time.Duration, devices int, ackMS float64) {
	for tick := range 700 {
		at := start + time.Duration(tick)*10*time.Millisecond
		for k := range devices / 100 {
			lat := time.Duration((ackMS + float64((tick+k)%10)/10) * float64(time.Millisecond))
			c.Record(sim.Event{Kind: sim.Published, At: at, Intended: at, Timed: true})
			c.Record(sim.Event{Kind: sim.Acked, At: at + lat, Latency: lat, Intended: at, Timed: true})
			c.Record(sim.Event{Kind: sim.Delivered, At: at + lat + time.Millisecond, Latency: lat + time.Millisecond, Intended: at})
		}
		if tick%100 == 99 {
			c.Observe(report.Observation{At: at + 10*time.Millisecond, Census: []sim.Census{{Connected: int64(devices)}}})
		}
	}
}

// What report.html shows a browser, opened as a file: its plots drawn at
// a size, the capacity headline, the knee marked, stage names on the
// charts over time that do not overlap, and the latency charts two to a
// row on a wide window.
func TestBrowserReportHTML(t *testing.T) {
	out := t.TempDir()
	code, stdout, errs := cli(t, t.Context(), "report", writeKneeResult(t, t.TempDir()), "--out", out)
	if code != exitOK {
		t.Fatalf("report = exit %d\n%s%s", code, stdout, errs)
	}
	u, err := chromium.FileURL(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := chromium.New(t)
	if err := chromium.Open(ctx, u); err != nil {
		t.Fatal(err)
	}

	const sized = `[...document.querySelectorAll('svg.plot')].filter((s) => { const r = s.getBoundingClientRect(); return r.width > 100 && r.height > 50 }).length`
	plots, drawn := chromium.Eval[int](t, ctx, `document.querySelectorAll('svg.plot').length`), chromium.Eval[int](t, ctx, sized)
	if plots < 8 || drawn != plots {
		t.Errorf("%d of %d plots drawn at a size; want at least 8, all of them", drawn, plots)
	}
	headline := chromium.Eval[string](t, ctx, `(() => { const h = document.querySelector('#capacity .headline'); return h && h.getClientRects().length ? h.innerText : '' })()`)
	if !strings.Contains(headline, "devices") {
		t.Errorf("capacity headline %q: want a visible sentence about devices", headline)
	}
	if !strings.Contains(headline, "300") {
		t.Errorf("capacity headline %q: want the knee at 300 devices named", headline)
	}
	knee := chromium.Eval[string](t, ctx, `[...document.querySelectorAll('#capacity svg.plot text')].map((e) => e.textContent).find((s) => s.includes('knee')) || ''`)
	if knee != "knee: 300 devices" {
		t.Errorf("knee label in the capacity plot %q, want \"knee: 300 devices\"", knee)
	}
	checkStageLabels(t, ctx)
	if pair := chromium.Eval[string](t, ctx, `(() => { const f = [...document.querySelectorAll('#over-time figure.half')].slice(0, 2).map((e) => e.getBoundingClientRect()); return f.length < 2 ? 'fewer than two' : (f[0].top === f[1].top && f[0].right < f[1].left ? 'side by side' : 'stacked') })()`); pair != "side by side" {
		t.Errorf("the first two latency charts over time are %s, want side by side on a 1280 px window", pair)
	}

	shot := filepath.Join(chromium.ScreenshotDir(t), "report.png")
	if err := chromium.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// stageLabelBoxes lists, per plot over time, the boxes of the texts that
// name a stage.
const stageLabelBoxes = `[...document.querySelectorAll('#over-time svg.plot')].map((svg) =>
  [...svg.querySelectorAll('text')].filter((e) => /^(ramp|hold)-\d+$/.test(e.textContent.trim())).map((e) => {
    const r = e.getBoundingClientRect();
    return [e.textContent.trim(), r.left, r.right, r.top, r.bottom].join(' ');
  }))`

// checkStageLabels checks that the stage names on the charts over time
// never overlap, and that each chart names every hold (6 s, room enough)
// while the 1 s ramps before them, with no room, go unnamed.
func checkStageLabels(t *testing.T, ctx context.Context) {
	t.Helper()
	plots := chromium.Eval[[][]string](t, ctx, stageLabelBoxes)
	if len(plots) == 0 {
		t.Fatal("no plots over time")
	}
	named := 0
	for i, boxes := range plots {
		type box struct {
			name                     string
			left, right, top, bottom float64
		}
		var bs []box
		var names []string
		for _, s := range boxes {
			var b box
			if _, err := fmt.Sscan(s, &b.name, &b.left, &b.right, &b.top, &b.bottom); err != nil {
				t.Fatalf("plot %d: label box %q: %v", i, s, err)
			}
			for _, o := range bs {
				if b.left < o.right && o.left < b.right && b.top < o.bottom && o.top < b.bottom {
					t.Errorf("plot %d: stage labels %q and %q overlap", i, o.name, b.name)
				}
			}
			bs, names = append(bs, b), append(names, b.name)
		}
		if len(names) == 0 {
			continue // a tile of several plots names no stage
		}
		named++
		if got, want := strings.Join(names, " "), "hold-100 hold-200 hold-300 hold-400"; got != want {
			t.Errorf("plot %d names stages %q, want %q", i, got, want)
		}
	}
	if named < 4 {
		t.Errorf("%d plots over time name their stages, want at least 4", named)
	}
}
