package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/m2msim/m2msim/report"
)

func scrape(t *testing.T, u string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value is the sample of family name whose labels are exactly labels.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		for _, l := range m.Label {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	src := &fakeSource{}
	s, hs := newTest(t, src, Options{})
	if fams := scrape(t, hs.URL+"/metrics"); len(fams) != 0 {
		t.Errorf("before the first tick: %d families, want none", len(fams))
	}
	for range 3 {
		s.tick()
	}
	calls := src.callCount()
	fams := scrape(t, hs.URL+"/metrics")
	if src.callCount() != calls {
		t.Error("a scrape called the source")
	}
	type L = map[string]string
	tests := []struct {
		name   string
		labels L
		want   float64
		typ    dto.MetricType
	}{
		{"m2msim_devices", L{"state": "connected"}, 300, dto.MetricType_GAUGE},
		{"m2msim_devices", L{"state": "connecting"}, 20, dto.MetricType_GAUGE},
		{"m2msim_devices", L{"state": "sleeping"}, 5, dto.MetricType_GAUGE},
		{"m2msim_devices", L{"state": "offline"}, 675, dto.MetricType_GAUGE},
		{"m2msim_devices_planned", L{}, 1000, dto.MetricType_GAUGE},
		{"m2msim_elapsed_seconds", L{}, 3, dto.MetricType_GAUGE},
		{"m2msim_messages_total", L{"group": "group-0", "kind": "sent"}, 300, dto.MetricType_COUNTER},
		{"m2msim_messages_total", L{"group": "group-3", "kind": "received"}, 3 * 99 * 4, dto.MetricType_COUNTER},
		{"m2msim_errors_total", L{"kind": "timeout"}, 3, dto.MetricType_COUNTER},
		{"m2msim_errors_total", L{"kind": "refused"}, 2, dto.MetricType_COUNTER},
		{"m2msim_latency_ms", L{"metric": "e2e", "quantile": "0.5"}, 15, dto.MetricType_GAUGE},
		{"m2msim_latency_ms", L{"metric": "e2e", "quantile": "0.9"}, 30, dto.MetricType_GAUGE},
		{"m2msim_latency_ms", L{"metric": "request", "quantile": "0.99"}, 100, dto.MetricType_GAUGE},
		{"m2msim_threshold_passed", L{"expr": "latency.e2e.p99 < 250ms"}, 1, dto.MetricType_GAUGE},
		{"m2msim_threshold_passed", L{"expr": "messages.loss_pct < 1%"}, 0, dto.MetricType_GAUGE},
	}
	for _, tt := range tests {
		got, ok := value(fams, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
		if f := fams[tt.name]; f != nil && f.GetType() != tt.typ {
			t.Errorf("%s is a %v, want %v", tt.name, f.GetType(), tt.typ)
		}
	}
	if n := len(fams["m2msim_latency_ms"].GetMetric()); n != 5*3 {
		t.Errorf("m2msim_latency_ms has %d series, want 15 (5 metrics, 3 quantiles)", n)
	}
	if n := len(fams["m2msim_messages_total"].GetMetric()); n != 4*2 {
		t.Errorf("m2msim_messages_total has %d series, want 8 (4 groups, sent and received)", n)
	}
	for name := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			t.Errorf("/metrics exports %s: the registry is the view's own", name)
		}
	}
}

// TestMetricsWithoutGroups: a run without groups counts its messages under
// group="".
func TestMetricsWithoutGroups(t *testing.T) {
	m := newMetrics(nil, nil)
	l := makeLive(2, 200)
	l.Groups = nil
	l.Thresholds = append(l.Thresholds, l.Thresholds[0]) // a duplicate expression: one series
	m.live = func() *report.Live { return &l }
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	if v, ok := value(byName, "m2msim_messages_total", map[string]string{"group": "", "kind": "sent"}); !ok || v != 2000 {
		t.Errorf(`m2msim_messages_total{group="",kind="sent"} = %v (found %v), want 2000`, v, ok)
	}
}

// TestMetricsShardLabel: a shard's every series carries shard="I", so
// Prometheus sums the shards of one run.
func TestMetricsShardLabel(t *testing.T) {
	src := &fakeSource{}
	s, hs := newTest(t, src, Options{Labels: map[string]string{"shard": "2"}})
	s.tick()
	fams := scrape(t, hs.URL+"/metrics")
	if len(fams) == 0 {
		t.Fatal("no metrics")
	}
	if v, ok := value(fams, "m2msim_devices", map[string]string{"state": "connected", "shard": "2"}); !ok || v <= 0 {
		t.Errorf("m2msim_devices{state=connected,shard=2} = %v (found %v)", v, ok)
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == "shard" && l.GetValue() == "2"
			}
			if !found {
				t.Errorf("%s has a series without shard=\"2\": %v", name, m.GetLabel())
			}
		}
	}
}
