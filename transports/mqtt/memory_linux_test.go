//go:build linux

package mqtt_test

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
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
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{rss: rss(b), heap: int64(ms.HeapInuse), stack: int64(ms.StackInuse), goroutines: runtime.NumGoroutine()}
}

// BenchmarkIdleSessions measures what an idle connected device costs this
// process: 5,000 sessions against Mosquitto (a separate process, so its
// memory is not counted), keepalive 60s, nothing in flight.
func BenchmarkIdleSessions(b *testing.B) {
	const n = 5000
	m := mqtttest.StartMosquitto(b, mqtttest.WithConfig("log_type none"))
	ctx := context.Background()
	for b.Loop() {
		before := measure(b)
		ss := make([]*mqtt.Session, 0, n)
		for i := range n {
			s, err := mqtt.Connect(ctx, mqtt.Options{Addr: m.Addr(), ClientID: "idle-" + strconv.Itoa(i),
				KeepAlive: time.Minute, CleanSession: true}, nil)
			if err != nil {
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
