package render

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"gonum.org/v1/plot/vg/draw"

	"github.com/m2msim/m2msim/report"
)

var saveHTML = flag.String("html", "", "also write the fixture's report.html to this path, to look at")

// renderHTML renders in and parses the page.
func renderHTML(t testing.TB, in Input) ([]byte, *html.Node) {
	t.Helper()
	var b bytes.Buffer
	if err := HTML(&b, in); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("report.html does not parse: %v", err)
	}
	return b.Bytes(), doc
}

// all lists the elements under n named tag, in document order.
func all(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && d.Data == tag {
			out = append(out, d)
		}
	}
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func byID(doc *html.Node, id string) *html.Node {
	for d := range doc.Descendants() {
		if v, _ := attr(d, "id"); d.Type == html.ElementNode && v == id {
			return d
		}
	}
	return nil
}

// textOf is the text under n, spaces collapsed.
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// externalRefs lists whatever in the page would make a browser fetch
// something: URLs in attributes (but data: URIs), script sources, links,
// and CSS imports or urls.
func externalRefs(doc *html.Node) []string {
	var out []string
	for d := range doc.Descendants() {
		if d.Type != html.ElementNode {
			continue
		}
		switch _, src := attr(d, "src"); {
		case d.Data == "link":
			out = append(out, "<link>")
		case d.Data == "script" && src:
			out = append(out, "<script src>")
		case d.Data == "style":
			if css := strings.ToLower(textOf(d)); strings.Contains(css, "@import") || strings.Contains(css, "url(") {
				out = append(out, "CSS import or url()")
			}
		}
		for _, a := range d.Attr {
			v := strings.ToLower(strings.TrimSpace(a.Val))
			if strings.HasPrefix(v, "data:") {
				continue
			}
			if strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:") || strings.HasPrefix(v, "//") ||
				strings.Contains(v, "url(") || (a.Key == "src" || a.Key == "href" || strings.HasSuffix(a.Key, ":href")) {
				out = append(out, d.Data+" "+a.Key+"="+a.Val)
			}
		}
	}
	return out
}

func TestHTMLFixture(t *testing.T) {
	in := fixtureInput()
	b, doc := renderHTML(t, in)
	if *saveHTML != "" {
		if err := os.MkdirAll(filepath.Dir(*saveHTML), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*saveHTML, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if refs := externalRefs(doc); len(refs) > 0 {
		t.Errorf("report.html refers outside itself: %q", refs)
	}
	if bytes.Contains(b, []byte("<?xml")) {
		t.Error("report.html holds an XML prolog from vgsvg")
	}
	// Capacity: latency and throughput. Over time: six latency metrics,
	// two of rates, devices, failures, radio and the generator's load.
	if n := len(all(doc, "svg")); n != 14 {
		t.Errorf("report.html has %d <svg> plots, want 14", n)
	}
	for _, f := range all(doc, "figure") {
		if len(all(f, "svg")) == 0 {
			t.Errorf("figure %q has no plot: %s", textOf(f), textOf(f))
		}
	}
	checkHalves(t, doc)
	checkHeader(t, doc, in)
	checkCapacity(t, doc, in.Capacity)
	checkVerdicts(t, doc, in.Result)
}

// checkHalves checks that the latency charts over time, and only they,
// are set two to a row on a wide page.
func checkHalves(t *testing.T, doc *html.Node) {
	t.Helper()
	halves := 0
	for _, f := range all(byID(doc, "over-time"), "figure") {
		class, _ := attr(f, "class")
		title := textOf(all(f, "h3")[0])
		if latency := strings.HasSuffix(title, " latency"); latency != (class == "half") {
			t.Errorf("figure %q has class %q; want \"half\" on the latency charts only", title, class)
		}
		if class == "half" {
			halves++
		}
	}
	if halves != 6 {
		t.Errorf("%d half-width figures, want the 6 latency charts", halves)
	}
}

func checkHeader(t *testing.T, doc *html.Node, in Input) {
	t.Helper()
	if cmd := byID(doc, "command"); cmd == nil || textOf(cmd) != in.Command {
		t.Errorf("repeat command missing, want %q", in.Command)
	}
	header := textOf(all(doc, "header")[0])
	for _, want := range []string{in.Result.Scenario.Name, "FAILED", "7", in.Result.Scenario.File, "2025-03-04T10:00:00Z",
		"2m0.412s of 2m0s planned", in.Result.Warnings[0]} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
}

func checkCapacity(t *testing.T, doc *html.Node, c *Capacity) {
	t.Helper()
	sec := byID(doc, "capacity")
	if sec == nil {
		t.Fatal("no capacity section")
	}
	if got := textOf(all(sec, "p")[0]); got != c.Sentences[0] {
		t.Errorf("capacity headline = %q, want %q", got, c.Sentences[0])
	}
	plots := all(sec, "svg")
	if len(plots) != 2 {
		t.Fatalf("capacity has %d plots, want 2", len(plots))
	}
	var texts []string
	for _, n := range all(plots[0], "text") {
		texts = append(texts, textOf(n))
	}
	if !slices.Contains(texts, "knee: 2000 devices") {
		t.Errorf("capacity latency plot has no knee label; its texts: %q", texts)
	}
	if s := textOf(plots[1]); !strings.Contains(s, "USL peak: 5997 devices, 385/s") {
		t.Errorf("throughput plot does not mark the USL peak: %q", s)
	}
	if s := textOf(sec); !strings.Contains(s, beyondReach) || !strings.Contains(s, "The server ran out first") {
		t.Errorf("capacity section lacks %q or the limiter: %s", beyondReach, s)
	}
}

func checkVerdicts(t *testing.T, doc *html.Node, r *report.Result) {
	t.Helper()
	rows := all(byID(doc, "verdict"), "tr")[1:]
	if len(rows) != len(r.Thresholds) {
		t.Fatalf("verdict has %d rows, want %d", len(rows), len(r.Thresholds))
	}
	for i, th := range r.Thresholds {
		cells := all(rows[i], "td")
		want := map[bool]string{true: "pass", false: "fail"}[th.Passed]
		if got := textOf(cells[0]); got != th.Expr {
			t.Errorf("verdict row %d names %q, want %q", i, got, th.Expr)
		}
		if got := textOf(cells[3]); got != want {
			t.Errorf("verdict of %q = %q, want %q", th.Expr, got, want)
		}
	}
}

// degenerate inputs that must render: gonum panics on some of these.
func degenerateInputs() map[string]Input {
	inf, nan := math.Inf(1), math.NaN()
	one := fixtureInput()
	one.Points = one.Points[:1]
	zero := fixtureInput()
	for i := range zero.Points {
		p := &zero.Points[i]
		for k := range p.Rates {
			p.Rates[k] = 0
		}
		for k := range p.Latency {
			p.Latency[k] = report.Quantiles{}
		}
		p.Devices, p.Self, p.Active, p.Errors = report.DeviceStates{}, report.Self{}, 0, nil
	}
	weird := fixtureInput()
	for i := range weird.Points {
		p := &weird.Points[i]
		p.Rates["sent"] = []float64{nan, inf, -inf, 0}[i%4]
		p.Latency["e2e"] = report.Quantiles{P50: nan, P90: inf, P99: -1, Max: []float64{inf, 0, 1e300}[i%3]}
		p.Self.CPUPct = nan
		if i%5 == 0 {
			p.T = nan
		}
	}
	weird.Result.ElapsedS, weird.Result.Messages.LossPct = nan, inf
	weird.Capacity.Rows[0].P50MS, weird.Capacity.Rows[1].ThroughputPerSec = nan, inf
	weird.Capacity.USL.Curve = func(float64) float64 { return nan }
	weird.Capacity.USL.PeakDevices = inf
	allBeyond := fixtureInput()
	for i := range allBeyond.Capacity.Rows {
		allBeyond.Capacity.Rows[i].P50MS, allBeyond.Capacity.Rows[i].P99MS = inf, inf
	}
	allBeyond.Capacity.KneeIndex, allBeyond.Capacity.LargestPassing = 7, -1
	allBeyond.Capacity.USL = &USLFit{}
	return map[string]Input{
		"minimal":               minimalInput(),
		"empty result":          {Result: &report.Result{}},
		"empty capacity":        {Result: &report.Result{}, Capacity: &Capacity{KneeIndex: -1, LargestPassing: -1}},
		"one point":             one,
		"all zero":              zero,
		"NaN and Inf":           weird,
		"every p99 beyond":      allBeyond,
		"stages without points": {Result: fixtureResult()},
	}
}

func TestHTMLDegenerate(t *testing.T) {
	for name, in := range degenerateInputs() {
		t.Run(name, func(t *testing.T) {
			b, doc := renderHTML(t, in)
			if len(all(doc, "main")) != 1 || byID(doc, "verdict") == nil || byID(doc, "totals") == nil {
				t.Errorf("report.html lacks its main sections:\n%s", b)
			}
			if (in.Capacity != nil) != (byID(doc, "capacity") != nil) {
				t.Errorf("capacity section shown = %v, want %v", byID(doc, "capacity") != nil, in.Capacity != nil)
			}
			if refs := externalRefs(doc); len(refs) > 0 {
				t.Errorf("report.html refers outside itself: %q", refs)
			}
			for _, f := range all(doc, "figure") {
				if len(all(f, "svg")) == 0 {
					t.Errorf("figure without plot (gonum panicked): %s", textOf(f))
				}
			}
			for _, w := range []func() error{
				func() error { return JUnit(&bytes.Buffer{}, in.Result) },
				func() error { return Markdown(&bytes.Buffer{}, in) },
				func() error { return CSV(&bytes.Buffer{}, in.Points) },
			} {
				if err := w(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestHTMLNoResult(t *testing.T) {
	if err := HTML(&bytes.Buffer{}, Input{}); err == nil {
		t.Error("HTML(no result) = nil, want an error")
	}
}

func TestDrawFigureRecovers(t *testing.T) {
	f := drawFigure("broken", "", plotW, plotH, func(draw.Canvas) { panic("Values must be greater than 0 for a log scale.") })
	if f.SVG != "" || !strings.Contains(f.Err, "log scale") {
		t.Errorf("drawFigure(panicking) = SVG %d bytes, Err %q; want no SVG and the panic in Err", len(f.SVG), f.Err)
	}
}

// The limiter's reason, as report/capacity words it, shows once, in its
// own paragraph under the headline, without naming who ran out twice.
func TestHTMLLimiterOnce(t *testing.T) {
	for _, tc := range []struct{ who, reason, want string }{
		{"server", "the server ran out first: its p99 climbs after 2,000 devices, while m2msim kept up through 4,000 (schedule lag p99 at most 1 ms)",
			"Who ran out first. The server ran out first: its p99 climbs after 2,000 devices, while m2msim kept up through 4,000 (schedule lag p99 at most 1 ms)."},
		{"generator", "m2msim ran out first, not the server: at 2,500 devices its schedule ran 70 ms late at p99 (bound 10 ms); figures from that load on measure m2msim as much as the server",
			"Who ran out first. The generator (m2msim itself) ran out first: at 2,500 devices its schedule ran 70 ms late at p99 (bound 10 ms); figures from that load on measure m2msim as much as the server. The server may carry more than these figures show."},
		{"server", "throughput flattened", "Who ran out first. The server ran out first: throughput flattened."},
	} {
		in := fixtureInput()
		in.Capacity.Limiter, in.Capacity.LimiterReason = tc.who, tc.reason
		in.Capacity.Sentences = []string{in.Capacity.Sentences[0], tc.reason + ".", in.Capacity.Sentences[2]}
		_, doc := renderHTML(t, in)
		if got := textOf(byID(doc, "limiter")); got != tc.want {
			t.Errorf("limiter paragraph = %q, want %q", got, tc.want)
		}
		ps := all(byID(doc, "capacity"), "p")
		if got := textOf(ps[1]); got != tc.want {
			t.Errorf("the paragraph after the headline = %q, want the limiter's", got)
		}
		if n := strings.Count(textOf(byID(doc, "capacity")), limiterWhy(tc.reason)); n != 1 {
			t.Errorf("the limiter's reason shows %d times, want once", n)
		}
	}
}

// The groups table shows each group's own ack and e2e p99.
func TestHTMLGroupLatencies(t *testing.T) {
	in := fixtureInput()
	in.Result.Groups[0].LatencyMS.E2E = report.LatencyStats{Count: 10, P99: report.Judged{V: 12.345}}
	b, _ := renderHTML(t, in)
	if !bytes.Contains(b, []byte("<th>e2e p99 ms</th></tr>")) || !bytes.Contains(b, []byte("<td>12.3</td></tr>")) &&
		!bytes.Contains(b, []byte("<td>12.345</td></tr>")) {
		i := bytes.Index(b, []byte("<h3>Groups</h3>"))
		t.Errorf("groups table lacks the group's e2e p99 of 12.345 ms:\n%s", b[i:min(len(b), i+1500)])
	}
}

// Broker restarts the run counted (target.restart) are marked on the
// charts over time, and nothing is marked in a run without them.
func TestHTMLMarksBrokerRestarts(t *testing.T) {
	in := fixtureInput()
	plain, _ := renderHTML(t, in)
	if n := bytes.Count(plain, []byte("broker restart")); n != 0 {
		t.Fatalf("a run without restarts shows %d restart marks", n)
	}
	intervals := make([]int64, 120)
	intervals[40], intervals[90] = 1, 1
	in.Result.Metrics = &report.Metrics{IntervalS: 1, Counters: map[string]*report.CounterMetric{
		"broker_restart": {Run: 2, Intervals: intervals}}}
	marked, _ := renderHTML(t, in)
	charts := bytes.Count(marked, []byte("<svg"))
	if n := bytes.Count(marked, []byte("broker restart")); n < 2*4 || charts == 0 {
		t.Errorf("%d restart labels in %d charts, want two on each of the charts over time that name their marks", n, charts)
	}
}
