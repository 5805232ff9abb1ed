package httpc_test

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/nginxtest"
	"github.com/m2msim/m2msim/transports/httpc"
)

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPost is the device side's CPU for one telemetry POST (a 64-byte
// JSON body) and its response, over kept-alive connections: 200 devices
// round-robin, 64 requests in flight, so each request goes out alone, as
// a fleet's do. nginx, another process, answers 204 itself, so
// cpu-ns/op is the devices' alone, comparable with the MQTT benchmarks'
// (bench/protocol-cost).
func BenchmarkPost(b *testing.B) {
	// The upstream is never reached: return answers first.
	addr := nginxtest.Start(b, nginxtest.Options{Upstream: "127.0.0.1:9", Location: []string{"return 204;"}}).Addr()
	const n = 200
	ss := make([]*httpc.Session, n)
	for i := range ss {
		s, err := httpc.Dial(context.Background(), httpc.Options{Addr: addr, KeepAlive: true, Timeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ss[i] = s
	}
	body := []byte(`{"device":"d000123","seq":1,"t":21.5,"rh":40,"pad":"xxxxxxxxxxxx"}`)
	win := make(chan struct{}, 64)
	failed := make(chan error, 1)
	done := func(_ httpc.Response, err error) {
		if err != nil {
			select {
			case failed <- err:
			default:
			}
		}
		<-win
	}
	targets := make([]string, n)
	for i := range targets {
		targets[i] = "/telemetry/d" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	cpu := selfCPU()
	for i := 0; b.Loop(); i++ {
		win <- struct{}{}
		if err := ss[i%n].Start(httpc.Request{Method: "POST", Target: targets[i%n], Body: body, ContentType: "application/json"}, done); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(win) > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(selfCPU()-cpu)/float64(b.N), "cpu-ns/op")
	select {
	case err := <-failed:
		b.Fatalf("a POST failed: %v", err)
	default:
	}
}
