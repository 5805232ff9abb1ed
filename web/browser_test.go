package web

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/chromium"
)

// TestBrowser opens the live page in headless Chromium: the connected
// figure rises, the charts draw, nothing breaks the page's CSP, and Finish
// brings up the link to the report, which opens.
func TestBrowser(t *testing.T) {
	ctx := chromium.New(t)
	src := &fakeSource{rise: 20} // 1,000 devices after 50 ticks: 5 s
	s, err := New(src, Options{Tick: 100 * time.Millisecond, Token: secret})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := chromium.Open(ctx, u); err != nil {
		t.Fatal(err)
	}

	connectedNow := func() int {
		text := chromium.Eval[string](t, ctx, `document.getElementById('f-connected').textContent`)
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(strings.Split(text, "/")[0]), ",", ""))
		if err != nil {
			return -1
		}
		return n
	}
	first := -1
	eventually(t, 10*time.Second, "the connected figure shows a number", func() bool {
		first = connectedNow()
		return first > 0
	})
	eventually(t, 10*time.Second, "the connected figure rises", func() bool { return connectedNow() > first })
	eventually(t, 10*time.Second, "the devices chart draws more than one point", func() bool {
		return chromium.Eval[int](t, ctx, `(() => { const c = window.m2msim.charts.devices; return c ? c.plot.data[0].length : 0 })()`) > 1
	})
	const charts = `Object.keys(window.m2msim.charts).sort().join(',')`
	want := "devices,errors,latency-ack,latency-command,latency-connect,latency-e2e,latency-request,rates"
	eventually(t, 5*time.Second, "a chart per latency metric", func() bool { return chromium.Eval[string](t, ctx, charts) == want })
	if got := chromium.Eval[string](t, ctx, `document.querySelectorAll('#thresholds tbody tr').length + ' ' + document.querySelectorAll('#groups tbody tr').length`); got != "3 4" {
		t.Errorf("threshold and group rows: %q, want \"3 4\"", got)
	}
	// shown tells whether the element is rendered (CSS may override hidden).
	const shown = `(id) => document.getElementById(id).getClientRects().length > 0`
	if !chromium.Eval[bool](t, ctx, `(`+shown+`)('warnings')`) {
		t.Error("the warning is not shown")
	}
	if chromium.Eval[bool](t, ctx, `(`+shown+`)('finished')`) {
		t.Error("the report link shows before Finish")
	}

	dir := chromium.ScreenshotDir(t)
	if err := chromium.Screenshot(ctx, filepath.Join(dir, "web-live-running.png")); err != nil {
		t.Fatal(err)
	}

	s.Finish([]byte("<!doctype html><title>finished report</title><h1 id=done>All done</h1>"))
	eventually(t, 5*time.Second, "the report link appears", func() bool {
		return chromium.Eval[bool](t, ctx, `(`+shown+`)('finished') && (`+shown+`)('report-link')`)
	})
	if got := chromium.Eval[string](t, ctx, `document.getElementById('phase').textContent`); got != "finished" {
		t.Errorf("phase badge %q, want finished", got)
	}
	if v := chromium.Eval[[]string](t, ctx, `window.m2msim.cspViolations`); len(v) != 0 {
		t.Errorf("the page broke its Content-Security-Policy: %v", v)
	}

	shot := filepath.Join(dir, "web-live.png")
	if err := chromium.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	href := chromium.Eval[string](t, ctx, `document.getElementById('report-link').href`)
	if !strings.Contains(href, "/report?token=") {
		t.Errorf("report link %q does not carry the token", href)
	}
	if err := chromium.Open(ctx, href); err != nil {
		t.Fatal(err)
	}
	if got := chromium.Eval[string](t, ctx, `document.getElementById('done').textContent`); got != "All done" {
		t.Errorf("the report shows %q, want All done", got)
	}
}
