package footprint

import (
	"runtime"
	"testing"
)

func TestMeasure(t *testing.T) {
	f, err := Measure()
	if err != nil {
		t.Fatal(err)
	}
	if f.Heap <= 0 || f.Stack <= 0 || f.Goroutines < 1 || runtime.GOOS == "linux" && f.RSS < f.Heap {
		t.Errorf("Measure() = %+v: want a heap, stacks, a goroutine and (on Linux) an RSS above the heap", f)
	}
}
