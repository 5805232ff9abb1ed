package web

import (
	"testing"

	"github.com/m2msim/m2msim/report"
)

// staticSource returns the same realistic Live and one new interval per
// call, so that a benchmark measures the view and not the source.
type staticSource struct {
	live report.Live
	pt   report.Point
	n    int
}

func (s *staticSource) Live() report.Live { s.n++; return s.live }

func (s *staticSource) Points(from int) []report.Point {
	if from >= s.n {
		return nil
	}
	return []report.Point{s.pt}
}

// BenchmarkTick measures one tick: pull a Live with 5 latency metrics and
// 4 groups and one interval, encode the frame, record it in the history
// and offer it to 3 viewers that keep up.
func BenchmarkTick(b *testing.B) {
	src := &staticSource{live: makeLive(10, 1000), pt: makePoint(10, 1000)}
	s, err := New(src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	viewers := make([]*viewer, 3)
	for i := range viewers {
		viewers[i] = &viewer{ch: make(chan frame, viewerBuffer), next: -1}
		s.hub.add(viewers[i])
	}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		s.tick()
		for _, v := range viewers {
			f := <-v.ch
			size = len(f.b)
		}
	}
	b.ReportMetric(float64(size), "frame-bytes")
}
