// Package footprint measures what this process holds in memory, for the
// benchmarks that price an idle device: resident set, heap and stacks in
// use, and goroutines, each after the garbage collector has run.
package footprint

import (
	"bufio"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// Footprint is the process's memory at one moment, in bytes.
type Footprint struct {
	RSS, Heap, Stack int64
	Goroutines       int
}

// Measure collects garbage, returns freed memory to the system and takes
// the process's footprint. RSS comes from /proc/self/status (Linux); it is
// 0 elsewhere.
func Measure() (Footprint, error) {
	for range 3 { // each GC halves at most the stacks that are mostly unused
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := residentSet()
	return Footprint{RSS: rss, Heap: int64(ms.HeapInuse), Stack: int64(ms.StackInuse), Goroutines: runtime.NumGoroutine()}, err
}

// residentSet is the process's VmRSS, or 0 where /proc does not exist.
func residentSet() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}

// Take measures the footprint, failing tb when it cannot.
func Take(tb testing.TB) Footprint {
	tb.Helper()
	f, err := Measure()
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// ReportPer reports what the process grew by from before to f, per one
// of n units, as b's metrics rss-B/UNIT, heap-B/UNIT, stack-B/UNIT and
// goroutines/UNIT.
func (f Footprint) ReportPer(b *testing.B, before Footprint, n int, unit string) {
	per := func(v int64) float64 { return float64(v) / float64(n) }
	b.ReportMetric(per(f.RSS-before.RSS), "rss-B/"+unit)
	b.ReportMetric(per(f.Heap-before.Heap), "heap-B/"+unit)
	b.ReportMetric(per(f.Stack-before.Stack), "stack-B/"+unit)
	b.ReportMetric(per(int64(f.Goroutines-before.Goroutines)), "goroutines/"+unit)
}

// DevicesEnv names the environment variable that sets how many idle
// devices the footprint benchmarks open (bench/protocol-cost runs them at
// 1,000 and 5,000).
const DevicesEnv = "M2MSIM_BENCH_DEVICES"

// Devices is how many devices a footprint benchmark opens: DevicesEnv when
// it holds a positive number, else def.
func Devices(def int) int {
	if n, err := strconv.Atoi(os.Getenv(DevicesEnv)); err == nil && n > 0 {
		return n
	}
	return def
}
