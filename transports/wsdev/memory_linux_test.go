package wsdev_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/wsdev"
)

// serverEnv makes the test binary an endpoint server: the benchmark runs
// its server in a subprocess so that only the devices' memory counts.
const serverEnv = "M2MSIM_WSDEV_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) == "1" {
		serve()
		return
	}
	os.Exit(m.Run())
}

// serve runs an endpoint, prints its address and stops when stdin closes.
func serve() {
	ep, err := endpoint.Start(endpoint.Options{})
	if err != nil {
		os.Exit(1)
	}
	os.Stdout.WriteString(ep.Addr() + "\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
	ep.Close()
}

// serverProcess starts the endpoint subprocess; cleanup stops it by
// closing its stdin and, failing that, killing its PID.
func serverProcess(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		in.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	addr := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		addr <- l
	}()
	select {
	case a := <-addr:
		if len(a) < 2 {
			b.Fatal("endpoint subprocess gave no address")
		}
		return a[:len(a)-1]
	case <-time.After(10 * time.Second):
		b.Fatal("endpoint subprocess did not start in 10s")
	}
	return ""
}

// BenchmarkIdleSessions measures what an idle WebSocket device costs this
// process: 1,000 sessions, each having sent one frame, against m2msim's
// endpoint in another process; with the package's buffer sizes and with
// gorilla's 4 KiB defaults.
func BenchmarkIdleSessions(b *testing.B) {
	addr := serverProcess(b)
	b.Run("sized", func(b *testing.B) { idleSessions(b, addr, 0) })
	b.Run("4KiB-buffers", func(b *testing.B) { idleSessions(b, addr, 4096) })
}

func idleSessions(b *testing.B, addr string, buf int) {
	n := footprint.Devices(1000)
	for b.Loop() {
		before := footprint.Take(b)
		ss := make([]*wsdev.Session, 0, n)
		for i := range n {
			s, err := wsdev.Dial(context.Background(), wsdev.Options{URL: "ws://" + addr + "/ws/d" + strconv.Itoa(i),
				ReadBuffer: buf, WriteBuffer: buf})
			if err != nil {
				b.Fatalf("session %d: %v", i, err)
			}
			if err := s.Send([]byte(`{"v":1}`)); err != nil {
				b.Fatal(err)
			}
			ss = append(ss, s)
		}
		after := footprint.Take(b)
		after.ReportPer(b, before, n, "session")
		for _, s := range ss {
			s.Close()
		}
	}
}

// BenchmarkSend is the device side's CPU for one telemetry frame (64
// bytes of JSON, text) up a kept WebSocket: 200 devices round-robin
// against m2msim's endpoint in another process, so cpu-ns/op is the
// devices' alone, comparable with the MQTT benchmarks'
// (bench/protocol-cost). A frame has no acknowledgement: this is the
// send alone.
func BenchmarkSend(b *testing.B) {
	addr := serverProcess(b)
	const n = 200
	ss := make([]*wsdev.Session, n)
	for i := range ss {
		s, err := wsdev.Dial(context.Background(), wsdev.Options{URL: "ws://" + addr + "/ws/d" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ss[i] = s
	}
	frame := []byte(`{"device":"d000123","seq":1,"t":21.5,"rh":40,"pad":"xxxxxxxxxxxx"}`)
	b.ReportAllocs()
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for i := 0; b.Loop(); i++ {
		if err := ss[i%n].Send(frame); err != nil {
			b.Fatal(err)
		}
	}
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	used := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
}
