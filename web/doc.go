// Package web is m2msim's live view: a small HTTP server that shows a run
// as it happens, in a browser page with charts, and as Prometheus metrics.
//
// The view pulls its figures from a Source on its own ticker (once per
// Options.Tick) and never runs on the engine's hot path: each tick reads
// the run's state now (report.Live) and the intervals completed since the
// last tick (report.Point), keeps a bounded history of the intervals, and
// fans one JSON frame out to every viewer through a small buffer that
// drops its oldest frame when the viewer is slow. A viewer that fell
// behind, or that connects late, is sent the whole history first.
//
// # Routes
//
//	/           the page (HTML, embedded in the binary with its scripts)
//	/ws         the WebSocket stream the page reads
//	/report     the finished report, once Finish has been called (404 before)
//	/metrics    Prometheus text format, from the figures of the last tick
//	/assets/... the page's scripts, styles and the vendored uPlot
//
// # Security
//
// The server listens on loopback unless told otherwise, and a non-loopback
// address requires a token (New fails without one). When a token is set,
// every route but /assets/ requires it, given as ?token=... or as an
// "Authorization: Bearer ..." header, compared in constant time; the
// assets are the binary's embedded files and carry no figures of the run.
// Without a token (loopback only), requests whose Host is not a loopback
// name are refused, so a web page cannot reach the view by rebinding its
// own DNS name to 127.0.0.1. A WebSocket's Origin must match its Host; a
// request without Origin (not a browser) is allowed once the token check
// has passed. Every response forbids remote sources through its
// Content-Security-Policy and sends no Referer.
package web
