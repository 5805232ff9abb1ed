package render

import (
	"bytes"
	"io"
	"testing"
)

// hourInput is the fixture stretched to a one-hour run: 3,600 intervals
// of one second over four stages of 15 minutes, with five latency
// metrics.
func hourInput() Input {
	in := fixtureInput()
	in.Points = fixturePoints(3600)
	for i := range in.Points {
		delete(in.Points[i].Latency, "command")
	}
	in.Result.ElapsedS, in.Result.PlannedDurationS = 3600.2, 3600
	for i := range in.Result.Stages {
		s := &in.Result.Stages[i]
		s.StartS, s.EndS = float64(i*900), float64((i+1)*900)
	}
	return in
}

// maxHourHTML bounds report.html for an hour-long run: a CI artefact to
// open in a browser, not a download.
const maxHourHTML = 3 << 20

func TestHTMLHourSize(t *testing.T) {
	b, doc := renderHTML(t, hourInput())
	t.Logf("report.html for a 1 h run of 3,600 points: %d bytes", len(b))
	if len(b) > maxHourHTML {
		t.Errorf("report.html for a 1 h run is %d bytes, want at most %d", len(b), maxHourHTML)
	}
	// Capacity 2; over time: five latency metrics, two of rates,
	// devices, failures, radio and the generator's load.
	if n := len(all(doc, "svg")); n != 13 {
		t.Errorf("report.html has %d <svg> plots, want 13", n)
	}
	if !bytes.Contains(b, []byte("3600 intervals drawn as 900 buckets of 4: each point is the maximum within its bucket.")) {
		t.Error("the latency charts do not say they were reduced to the bucket maxima")
	}
}

func BenchmarkHTMLHour(b *testing.B) {
	in := hourInput()
	b.ReportAllocs()
	for b.Loop() {
		if err := HTML(io.Discard, in); err != nil {
			b.Fatal(err)
		}
	}
}
