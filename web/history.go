package web

import (
	"slices"

	"github.com/m2msim/m2msim/report"
)

// maxHistory bounds the intervals the view keeps: an hour at one interval
// a second before it starts thinning the older ones.
const maxHistory = 3600

// history is the run's intervals so far, at most max of them, each with
// its index in the run. When full, it thins its older half to every other
// point, so the newest intervals keep their full resolution, older ones
// get coarser the older they are, and memory stays bounded however long
// the run: it keeps between max/2 and max points.
type history struct {
	max int
	pts []report.Point
	idx []int // idx[i] is pts[i]'s index in the run
}

// add appends pts, the intervals from index from on.
func (h *history) add(from int, pts []report.Point) {
	for i, p := range pts {
		if len(h.pts) >= h.max {
			h.decimate()
		}
		if len(h.pts) == cap(h.pts) { // grow to at most max, never past it
			n := min(max(2*cap(h.pts), 64), h.max)
			h.pts = append(make([]report.Point, 0, n), h.pts...)
			h.idx = append(make([]int, 0, n), h.idx...)
		}
		h.pts = append(h.pts, p)
		h.idx = append(h.idx, from+i)
	}
}

// decimate keeps every other point of the older half (the first, third,
// ...: the run's start stays) and every point of the newer half.
func (h *history) decimate() {
	old := len(h.pts) / 2
	j := 0
	for i := 0; i < old; i += 2 {
		h.pts[j], h.idx[j] = h.pts[i], h.idx[i]
		j++
	}
	n := copy(h.pts[j:], h.pts[old:])
	copy(h.idx[j:], h.idx[old:])
	clear(h.pts[j+n:]) // let the dropped points' maps go
	h.pts, h.idx = h.pts[:j+n], h.idx[:j+n]
}

// since returns a copy of every point from index from on, and whether
// history still has each of them (none thinned away).
func (h *history) since(from, next int) ([]report.Point, bool) {
	if from == next {
		return []report.Point{}, true
	}
	i, found := slices.BinarySearch(h.idx, from)
	if !found || len(h.idx)-i != next-from {
		return nil, false
	}
	return slices.Clone(h.pts[i:]), true
}
