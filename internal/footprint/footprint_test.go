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

func TestDevices(t *testing.T) {
	t.Setenv(DevicesEnv, "")
	if n := Devices(1000); n != 1000 {
		t.Errorf("unset: %d, want the default 1000", n)
	}
	for v, want := range map[string]int{"5000": 5000, "0": 1000, "-3": 1000, "many": 1000} {
		t.Setenv(DevicesEnv, v)
		if n := Devices(1000); n != want {
			t.Errorf("%s=%q: %d, want %d", DevicesEnv, v, n, want)
		}
	}
}
