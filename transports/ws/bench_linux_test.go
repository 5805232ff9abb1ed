//go:build linux

package ws_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/ws"
)

// brokerEnv makes the test binary an embedded broker (see TestMain): the
// benchmarks run it as a child, so its memory and CPU are not the
// devices'.
const brokerEnv = "M2MSIM_WS_BENCH_BROKER"

func TestMain(m *testing.M) {
	if os.Getenv(brokerEnv) == "1" {
		serveBroker()
		return
	}
	os.Exit(m.Run())
}

// serveBroker runs the embedded broker with a WebSocket listener, prints
// its two addresses and serves until stdin closes.
func serveBroker() {
	b, err := broker.StartWith(broker.Options{Addr: "127.0.0.1:0", WebSocketAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(b.Addr(), b.WebSocketURL())
	bufio.NewReader(os.Stdin).ReadString('\n')
	b.Close()
}

// childBroker is the embedded broker in a child process.
type childBroker struct {
	tcp, url string
	pid      int
}

func startChildBroker(b *testing.B) *childBroker {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), brokerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // this child, by its PID
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		f := strings.Fields(s)
		if len(f) != 2 {
			b.Fatalf("child broker said %q", s)
		}
		return &childBroker{tcp: f[0], url: f[1], pid: cmd.Process.Pid}
	case <-time.After(10 * time.Second):
		b.Fatal("child broker did not start within 10s")
	}
	return nil
}

// cpu returns the child's CPU time so far, in clock ticks of 10 ms.
func (c *childBroker) cpu(b *testing.B) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(c.pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// transportsOf are the two ways to the broker, side by side.
func transportsOf(c *childBroker) []struct {
	name string
	o    mqtt.Options
} {
	return []struct {
		name string
		o    mqtt.Options
	}{
		{"tcp", mqtt.Options{Addr: c.tcp}},
		{"ws", mqtt.Options{Addr: c.url, Dial: ws.Over(nil, ws.Options{})}},
	}
}

// BenchmarkIdleSessions is what an idle MQTT session costs this process
// over plain TCP and over WebSocket: 1,000 sessions to the embedded
// broker (in a child process), keepalive 60s, nothing in flight.
func BenchmarkIdleSessions(b *testing.B) {
	n := footprint.Devices(1000)
	c := startChildBroker(b)
	for _, tr := range transportsOf(c) {
		b.Run(tr.name, func(b *testing.B) {
			for b.Loop() {
				before := footprint.Take(b)
				ss := make([]*mqtt.Session, 0, n)
				for i := range n {
					o := tr.o
					o.ClientID, o.KeepAlive, o.CleanSession = tr.name+"-idle-"+strconv.Itoa(i), time.Minute, true
					s, err := mqtt.Connect(context.Background(), o, nil)
					if err != nil {
						b.Fatalf("session %d: %v", i, err)
					}
					ss = append(ss, s)
				}
				after := footprint.Take(b)
				after.ReportPer(b, before, n, "session")
				for _, s := range ss {
					s.Close()
				}
			}
		})
	}
}

// acker releases a window slot per PUBACK.
type acker chan struct{}

func (a acker) Acked(uint16)           { <-a }
func (a acker) Message(string, []byte) {}
func (a acker) Lost(error)             {}

// BenchmarkPublishQoS1 is the CPU of one QoS 1 PUBLISH and its PUBACK
// over TCP and over WebSocket, 64-byte payloads, 64 in flight: from one
// session (whose backlog can batch writes), and spread round-robin over
// 200 sessions (each write alone, as a fleet's are). cpu-ns/op is this
// process's (the device side), broker-cpu-ns/op the child broker's (at
// 10 ms resolution: use thousands of ops).
func BenchmarkPublishQoS1(b *testing.B) {
	c := startChildBroker(b)
	for _, tr := range transportsOf(c) {
		for _, n := range []int{1, 200} {
			b.Run(fmt.Sprintf("%s/sessions=%d", tr.name, n), func(b *testing.B) { benchPublish(b, c, tr.o, n) })
		}
	}
}

func benchPublish(b *testing.B, c *childBroker, o mqtt.Options, n int) {
	payload := make([]byte, 64)
	win := make(acker, 64)
	ss := make([]*mqtt.Session, n)
	for i := range ss {
		o.ClientID, o.CleanSession = fmt.Sprintf("pub-%s-%d-%d", o.Addr, n, i), true
		s, err := mqtt.Connect(context.Background(), o, win)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ss[i] = s
	}
	b.ReportAllocs()
	cpu, bcpu := selfCPU(), c.cpu(b)
	for i := 0; b.Loop(); i++ {
		win <- struct{}{}
		if err := ss[i%n].Publish(uint16(i/n%0xffff+1), "devices/000123/telemetry", payload, 1, false); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(win) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(selfCPU()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(c.cpu(b)-bcpu)/float64(b.N), "broker-cpu-ns/op")
}
