package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/report/render"
	"github.com/m2msim/m2msim/web"
)

// webOff is the --web value that turns the live view off; loopbackAny,
// its default, is a free loopback port.
const (
	webOff      = "off"
	loopbackAny = "127.0.0.1:0"
)

// webClose bounds how long closing the live view may take.
const webClose = 2 * time.Second

// liveView serves the live view of coll as f asks, printing its URL; nil
// when f turns it off. A view that cannot start is reported and the run
// goes on without it: the view is an aid, the result is the product.
func liveView(coll *report.Collector, f runFlags, labels map[string]string, log *slog.Logger, stdout, stderr io.Writer) *web.Server {
	if f.web == webOff {
		return nil
	}
	srv, err := web.New(coll, web.Options{Addr: f.web, Token: f.webToken, Logger: log, Labels: labels})
	if err == nil {
		var url string
		if url, err = srv.Start(); err == nil {
			fmt.Fprintf(stdout, "live view: %s\n", url)
			return srv
		}
	}
	fmt.Fprintf(stderr, "m2msim: the live view did not start (%v); the run goes on without it\n", err)
	return nil
}

// closeView tells the live view's viewers the run is over, showing them
// reportHTML, and shuts the view down.
func closeView(srv *web.Server, reportHTML []byte) {
	if srv == nil {
		return
	}
	srv.Finish(reportHTML)
	ctx, cancel := context.WithTimeout(context.Background(), webClose)
	defer cancel()
	_ = srv.Close(ctx)
}

// writeReports writes report.html, junit.xml, summary.md and
// timeseries.csv beside the result at resultPath, and returns the HTML.
func writeReports(res *report.Result, resultPath, command string, stdout, stderr io.Writer) []byte {
	in, err := render.Prepare(res, command)
	if err != nil {
		fmt.Fprintf(stderr, "m2msim: reports: %v; writing them without the timeline\n", err)
		in = render.Input{Result: res, Command: command}
	}
	dir := filepath.Dir(resultPath)
	paths, err := render.WriteAll(dir, in)
	if err != nil {
		fmt.Fprintf(stderr, "m2msim: could not write the reports to %s: %v (the result is safe: %s)\n", dir, err, resultPath)
		return nil
	}
	for _, p := range paths {
		if strings.HasSuffix(p, render.HTMLFile) {
			fmt.Fprintf(stdout, "report: %s\n", p)
			html, _ := os.ReadFile(p)
			return html
		}
	}
	return nil
}

// repeatCommand is the command line that runs the same scenario with the
// same seed again.
func repeatCommand(file string, f runFlags, seed uint64) string {
	parts := []string{"m2msim", "run", shellQuote(file), "--seed", strconv.FormatUint(seed, 10)}
	if f.duration > 0 {
		parts = append(parts, "--duration", f.duration.String())
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// webTokenEnv is where the --web-token may come from instead, so that it
// stays out of the process list and the shell's history.
const webTokenEnv = "M2MSIM_WEB_TOKEN"
