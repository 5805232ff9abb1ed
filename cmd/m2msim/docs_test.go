//go:build docs

package main

import (
	"bufio"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/chromium"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// docsWidth is the width of the README's pictures in CSS pixels; each
// shows the top of its page down to the end of an element, docsLiveEnd
// or docsReportEnd, and a margin.
const (
	docsWidth     = 1280
	docsLiveEnd   = `#charts > :nth-child(6)` // the third row of charts
	docsReportEnd = `#capacity figure`        // latency against devices, the knee marked
	docsMargin    = 6
)

// docsLiveAt is how far into the capacity ramp the live view is taken:
// in the 7,500-device stage, with four steps of the ramp on its charts.
const docsLiveAt = 70 * time.Second

// TestDocsScreenshots regenerates the README's pictures from a real run
// of scenarios/examples/capacity-ramp.yaml against a Mosquitto it starts
// on a free loopback port: docs/live-view.png, the live view 70 s in, and
// docs/report.png, the top of the finished report.html. The run takes
// about two minutes; its figures are this machine's, so run it on an
// otherwise idle one. It builds only with the docs tag, so go test ./...
// never runs it:
//
//	docs/screenshots.sh
func TestDocsScreenshots(t *testing.T) {
	docs, err := filepath.Abs(filepath.Join("..", "..", "docs"))
	if err != nil {
		t.Fatal(err)
	}
	m := mqtttest.StartMosquitto(t)
	wd := docsScenario(t, "tcp://"+m.Addr())
	p := startBinaryIn(t, wd, "run", "scenarios/examples/capacity-ramp.yaml", "--out", "out", "--progress", "1s")
	u := liveURL(t, p, 30*time.Second)

	t.Run("live-view", func(t *testing.T) {
		eventually(t, 3*time.Minute, "the run "+docsLiveAt.String()+" in", func() bool { return progressed(t, p) >= docsLiveAt })
		ctx := chromium.New(t)
		if err := chromium.Open(ctx, u); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the charts draw the run so far", func() bool {
			return chromium.Eval[int](t, ctx, `(() => { const c = window.m2msim.charts.devices; return c ? c.plot.data[0].length : 0 })()`) >= 60
		})
		docsShot(t, ctx, filepath.Join(docs, "live-view.png"), docsLiveEnd)
	})

	if code := waitExit(t, p, 5*time.Minute); code != exitOK && code != exitThreshold {
		t.Fatalf("m2msim exit %d, want %d or %d", code, exitOK, exitThreshold)
	}
	t.Run("report", func(t *testing.T) {
		u, err := chromium.FileURL(filepath.Join(wd, "out", "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		ctx := chromium.New(t)
		if err := chromium.Open(ctx, u); err != nil {
			t.Fatal(err)
		}
		docsShot(t, ctx, filepath.Join(docs, "report.png"), docsReportEnd)
	})
}

// docsScenario writes the capacity-ramp example, aimed at broker, to
// scenarios/examples/ in a new directory, and returns the directory: run
// from there, the report names the file as the repository does.
func docsScenario(t *testing.T, broker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "scenarios", "examples", "capacity-ramp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const shipped = "tcp://127.0.0.1:1883"
	if !strings.Contains(string(b), shipped) {
		t.Fatalf("capacity-ramp.yaml no longer targets %s: update docsScenario", shipped)
	}
	wd := t.TempDir()
	dir := filepath.Join(wd, "scenarios", "examples")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), shipped, broker)
	if err := os.WriteFile(filepath.Join(dir, "capacity-ramp.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return wd
}

// progressed is how far the run of p is, by its last progress line
// ("  1m10s/1m40s  connected ..."); 0 before the first.
func progressed(t *testing.T, p *process) time.Duration {
	t.Helper()
	if !p.running() {
		t.Fatalf("m2msim exited early (%v)", p.cmd.ProcessState)
	}
	var last time.Duration
	sc := bufio.NewScanner(strings.NewReader(readFile(p.stdout)))
	for sc.Scan() {
		clock, _, ok := strings.Cut(strings.TrimSpace(sc.Text()), "/")
		if d, err := time.ParseDuration(clock); ok && err == nil {
			last = d
		}
	}
	return last
}

// docsShot writes the top of the page, docsWidth wide, down to the
// bottom of the element that end selects, to path, once no transition
// is under way (the live view's progress bar slides), and checks it
// stays small enough for the repository.
func docsShot(t *testing.T, ctx context.Context, path, end string) {
	t.Helper()
	eventually(t, 10*time.Second, "the page's transitions end", func() bool {
		return chromium.Eval[bool](t, ctx, `document.getAnimations().every((a) => a.playState !== 'running')`)
	})
	bottom := chromium.Eval[float64](t, ctx, `(() => { const e = document.querySelector('`+end+`'); return e ? e.getBoundingClientRect().bottom + window.scrollY : 0 })()`)
	if bottom <= 0 {
		t.Fatalf("%s: no %s on the page", path, end)
	}
	if err := chromium.ScreenshotTop(ctx, path, docsWidth, int(math.Ceil(bottom))+docsMargin); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 400<<10 {
		t.Errorf("%s is %d KiB, want under 400", path, fi.Size()>>10)
	}
	t.Logf("wrote %s (%d KiB)", path, fi.Size()>>10)
}
