package chromium

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/", true},
		{"http://127.0.0.2/x?token=s", true},
		{"http://[::1]:9/", true},
		{"http://localhost:1/", true},
		{"https://127.0.0.1/", true},
		{"http://example.com/", false},
		{"http://10.0.0.1/", false},
		{"http://0.0.0.0:80/", false},
		{"file:///etc/passwd", false},
		{"data:text/html,hi", false},
		{"ftp://127.0.0.1/", false},
	}
	for _, tt := range tests {
		err := CheckLoopback(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

// CheckLocal lets through what CheckLoopback does and file URLs of HTML
// files that exist on this host, nothing else.
func TestCheckLocal(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte("<p>hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.html"), 0o755); err != nil {
		t.Fatal(err)
	}
	fileURL := func(p string) string {
		u, err := FileURL(p)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		url string
		ok  bool
	}{
		{fileURL(page), true},
		{fileURL(page) + "#capacity", true},
		{"file://localhost" + filepath.ToSlash(page), true},
		{"http://127.0.0.1:8080/", true},
		{"http://example.com/", false},
		{"file:///etc/passwd", false},
		{fileURL(filepath.Join(dir, "missing.html")), false},
		{fileURL(filepath.Join(dir, "dir.html")), false},
		{"file://example.com" + filepath.ToSlash(page), false},
		{"data:text/html,hi", false},
	}
	for _, tt := range tests {
		err := CheckLocal(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLocal(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

func TestRedact(t *testing.T) {
	if got, want := redact("http://127.0.0.1:1/?token=secret"), "http://127.0.0.1:1/"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
}

func TestFind(t *testing.T) {
	p, err := Find()
	if err != nil {
		Require(t) // skips, or fails with CI=true
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		t.Fatalf("Find() = %q, which is not a file: %v", p, err)
	}
}

// TestBrowser opens a loopback page, reads what its script wrote and
// takes a full-page screenshot.
func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>t</title><body style="height:2000px">
<p id=p>before</p><script>document.getElementById('p').textContent = 'after ' + (6*7)</script>`)
	}))
	t.Cleanup(srv.Close)
	ctx := New(t)

	if err := Open(ctx, "http://example.com/"); err == nil {
		t.Fatal("Open(example.com) = nil, want a loopback error")
	}
	if err := Open(ctx, srv.URL+"/?token=x"); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text("#p"))
	if err != nil {
		t.Fatal(err)
	}
	if text != "after 42" {
		t.Errorf("#p = %q, want %q", text, "after 42")
	}
	path := filepath.Join(t.TempDir(), "page.png")
	if err := Screenshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot is not a PNG: % x", b[:min(8, len(b))])
	}
}

// TestBrowserFile opens a local HTML file and takes a screenshot of the
// top of its page, longer than the window.
func TestBrowserFile(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "page.html")
	if err := os.WriteFile(page, []byte(`<!doctype html><body style="margin:0;height:3000px"><p id=p>local</p>`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := New(t)
	u, err := FileURL(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := Open(ctx, u); err != nil {
		t.Fatal(err)
	}
	if text, err := chromedp.Run(ctx, chromedp.Text("#p")); err != nil || text != "local" {
		t.Errorf("#p = %q, %v; want \"local\"", text, err)
	}
	shot := filepath.Join(dir, "top.png")
	if err := ScreenshotTop(ctx, shot, 1000, 1500); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 1000 || cfg.Height != 1500 {
		t.Errorf("ScreenshotTop(1000, 1500) wrote %dx%d (%v), want 1000x1500", cfg.Width, cfg.Height, err)
	}
}
