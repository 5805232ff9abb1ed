package web

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/m2msim/m2msim/report"
)

// metrics exports the last Live the ticker pulled, in Prometheus' terms.
// A scrape never calls the Source: before the first tick it has nothing.
type metrics struct {
	live func() *report.Live

	devices, planned, messages, errors, latency, elapsed, threshold *prometheus.Desc
}

func newMetrics(live func() *report.Live, constLabels map[string]string) *metrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("m2msim_"+name, help, labels, constLabels)
	}
	return &metrics{
		live:      live,
		devices:   d("devices", "Devices by state now.", "state"),
		planned:   d("devices_planned", "The fleet's size."),
		messages:  d("messages_total", "Telemetry messages so far, per group (group=\"\" for a run without groups).", "group", "kind"),
		errors:    d("errors_total", "Failures so far, by kind.", "kind"),
		latency:   d("latency_ms", "Latency quantiles over the last complete intervals (up to 10s), in milliseconds.", "metric", "quantile"),
		elapsed:   d("elapsed_seconds", "Time since the run started."),
		threshold: d("threshold_passed", "1 when the threshold passes on the figures so far, 0 when it fails.", "expr"),
	}
}

// Describe sends every metric's description.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.devices, m.planned, m.messages, m.errors, m.latency, m.elapsed, m.threshold} {
		ch <- d
	}
}

// Collect sends the metrics of the last Live.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	l := m.live()
	if l == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(m.devices, float64(l.Devices.Connecting), "connecting")
	gauge(m.devices, float64(l.Devices.Connected), "connected")
	gauge(m.devices, float64(l.Devices.Sleeping), "sleeping")
	gauge(m.devices, float64(l.Devices.Offline), "offline")
	gauge(m.planned, float64(l.Planned))
	gauge(m.elapsed, l.ElapsedS)
	m.collectMessages(l, counter)
	for _, k := range sortedKeys(l.Errors) {
		counter(m.errors, float64(l.Errors[k]), k)
	}
	for _, k := range sortedKeys(l.Latency) {
		q := l.Latency[k]
		gauge(m.latency, q.P50, k, "0.5")
		gauge(m.latency, q.P90, k, "0.9")
		gauge(m.latency, q.P99, k, "0.99")
	}
	seen := map[string]bool{}
	for _, t := range l.Thresholds {
		if seen[t.Expr] { // one series per expression
			continue
		}
		seen[t.Expr] = true
		gauge(m.threshold, b2f(t.Passed), t.Expr)
	}
}

// collectMessages sends sent and received per group, or over the run
// (group="") when it has no groups.
func (m *metrics) collectMessages(l *report.Live, counter func(*prometheus.Desc, float64, ...string)) {
	if len(l.Groups) == 0 {
		counter(m.messages, float64(l.Totals["sent"]), "", "sent")
		counter(m.messages, float64(l.Totals["received"]), "", "received")
		return
	}
	seen := map[string]bool{}
	for _, g := range l.Groups {
		if seen[g.Name] {
			continue
		}
		seen[g.Name] = true
		counter(m.messages, float64(g.Sent), g.Name, "sent")
		counter(m.messages, float64(g.Received), g.Name, "received")
	}
}

// metricsHandler serves the Server's metrics from a registry of its own
// (no Go runtime or process metrics: the view is part of m2msim's
// process, whose owner may export those already).
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newMetrics(s.hub.latest.Load, s.opt.Labels))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrintln{s}})
}

// slogPrintln passes promhttp's errors to the Server's logger.
type slogPrintln struct{ s *Server }

func (p slogPrintln) Println(v ...any) { p.s.log.Warn("live view: /metrics", "err", fmt.Sprint(v...)) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
