// Package chromium runs a headless Chromium for browser tests: it finds
// the binary, starts it through chromedp with a fresh profile and a
// deadline, stops it when the test ends, and opens loopback URLs and
// local HTML files only.
//
// A test that needs a browser starts with New(t); without Chromium it
// skips (saying what to install), or fails when CI=true. .ci/servers
// installs Debian's chromium package.
package chromium

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ErrNotFound is returned by Find when no Chromium binary is installed.
var ErrNotFound = errors.New("chromium not found (apt-get install chromium)")

// names are the binaries Find looks for, in order.
var names = []string{"chromium", "chromium-browser", "google-chrome"}

// Timeout bounds a browser New starts, from start to stop, unless the
// test's own deadline comes first.
const Timeout = 2 * time.Minute

// Find returns the path of a Chromium binary: chromium, chromium-browser
// or google-chrome on PATH or in /usr/bin.
func Find() (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	for _, n := range names {
		p := "/usr/bin/" + n
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", ErrNotFound
}

// Require returns the path of Chromium. Without one it fails the test
// when the environment has CI=true, and skips it otherwise.
func Require(t testing.TB) string {
	t.Helper()
	p, err := Find()
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %v; .ci/servers installs it", err)
	}
	t.Skipf("skipping browser test: %v", err)
	return ""
}

// flags are Chromium's command line: headless, no sandbox (tests run as
// root in containers), and nothing that talks to the network by itself.
func flags(profile string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 800),
	}
}

// New starts a headless Chromium for the test, with a fresh profile in a
// temporary directory, and returns its context: pass it to Open,
// Screenshot and chromedp's actions. The browser stops when the test ends
// or at its deadline (Timeout, or the test's deadline if sooner).
func New(t testing.TB) context.Context {
	t.Helper()
	path := Require(t)
	profile := t.TempDir() // removed after the browser has stopped (cleanups run last first)

	deadline := time.Now().Add(Timeout)
	if td, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := td.Deadline(); ok && d.Before(deadline) {
			deadline = d.Add(-5 * time.Second)
		}
	}
	base, cancelBase := context.WithDeadline(context.Background(), deadline)
	opts := append(flags(profile), chromedp.ExecPath(path))
	actx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Cancel(stop); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("chromium: stopping the browser: %v", err)
		}
		cancelCtx()
		cancelAlloc() // waits for the process to exit
		cancelBase()
	})
	// Start the browser now, so that a failure to start is the test's
	// first error rather than a timeout later.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("chromium: starting %s: %v", path, err)
	}
	return ctx
}

// Open navigates the browser to rawURL, which must be an http URL on a
// loopback address or a file URL of a local HTML file (CheckLocal): tests
// never open anything else.
func Open(ctx context.Context, rawURL string) error {
	if err := CheckLocal(rawURL); err != nil {
		return err
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(rawURL)); err != nil {
		return fmt.Errorf("open %s: %w", redact(rawURL), err)
	}
	return nil
}

// FileURL is the file URL of the file at path, made absolute.
func FileURL(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("chromium: %w", err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// CheckLocal returns an error unless rawURL is http(s) on a loopback
// address (CheckLoopback) or a file URL naming an existing .html or .htm
// file on this host.
func CheckLocal(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("chromium: %w", err)
	}
	if u.Scheme != "file" {
		return CheckLoopback(rawURL)
	}
	if u.Host != "" && u.Host != "localhost" {
		return fmt.Errorf("chromium: file URL on host %q: tests open local files only", u.Host)
	}
	if ext := strings.ToLower(path.Ext(u.Path)); ext != ".html" && ext != ".htm" {
		return fmt.Errorf("chromium: %s: only HTML files are opened", u.Path)
	}
	fi, err := os.Stat(filepath.FromSlash(u.Path))
	if err != nil {
		return fmt.Errorf("chromium: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("chromium: %s is not a regular file", u.Path)
	}
	return nil
}

// CheckLoopback returns an error unless rawURL is http(s) on a loopback
// IP address or localhost.
func CheckLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("chromium: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("chromium: %s: only http(s) URLs are opened", u.Scheme)
	}
	h := u.Hostname()
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("chromium: host %q is not loopback: tests open loopback URLs only", h)
}

// redact drops rawURL's query, which may hold a token.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(bad url)"
	}
	u.RawQuery = ""
	return u.String()
}

// Screenshot writes a full-page PNG of the browser's page to path.
func Screenshot(ctx context.Context, path string) error {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return writePNG(path, png)
}

// ScreenshotTop writes a PNG of the top of the page to path: width by
// height CSS pixels from its top left corner, taken beyond the window
// when the page is longer.
func ScreenshotTop(ctx context.Context, path string, width, height int) error {
	shot := func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			Clip:                  &page.Viewport{Width: float64(width), Height: float64(height), Scale: 1},
			CaptureBeyondViewport: new(true),
			FromSurface:           new(true),
		})
		return r.Data, err
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return writePNG(path, png)
}

func writePNG(path string, png []byte) error {
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}

// Eval runs a JavaScript expression in the page of ctx and returns its
// value, failing the test when it cannot.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// ScreenshotDir is where a test saves its screenshots: $M2MSIM_SCREENSHOTS
// (made if missing), or the test's temporary directory.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("M2MSIM_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}
