package endpoint_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/httpc"
)

// clientEnv makes the test binary a fleet of idle devices: the benchmark
// runs them in a subprocess so that only the endpoint's memory counts.
const clientEnv = "M2MSIM_ENDPOINT_CLIENTS"

// idleConns is the fleet of each round of BenchmarkIdleConnections.
const idleConns = 1000

func TestMain(m *testing.M) {
	if v := os.Getenv(clientEnv); v != "" {
		clients(v)
		return
	}
	os.Exit(m.Run())
}

// clients opens idleConns connections of the kind v names ("http
// ADDR", "longpoll ADDR", "ws ADDR"), prints "ready" and waits for stdin
// to close.
func clients(v string) {
	kind, addr, _ := strings.Cut(v, " ")
	var closers []func()
	for i := range idleConns {
		dev := "d" + strconv.Itoa(i)
		switch kind {
		case "ws":
			c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/"+dev, nil)
			if err != nil {
				os.Exit(2)
			}
			closers = append(closers, func() { c.Close() })
		default:
			s, err := httpc.Dial(context.Background(), httpc.Options{Addr: addr, KeepAlive: true})
			if err != nil {
				os.Exit(2)
			}
			done := make(chan error, 1)
			s.Start(httpc.Request{Method: "POST", Target: "/telemetry/" + dev}, func(_ httpc.Response, err error) { done <- err })
			if <-done != nil {
				os.Exit(3)
			}
			if kind == "longpoll" {
				s.StartPolling(httpc.Poll{Path: "/commands/" + dev, Wait: time.Minute}, func([]byte) {})
			}
			closers = append(closers, func() { s.Close() })
		}
	}
	os.Stdout.WriteString("ready\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range closers {
		c()
	}
}

// fleet runs the clients subprocess against addr and returns once they
// are connected; the returned function stops it.
func fleet(b *testing.B, kind, addr string) func() {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), clientEnv+"="+kind+" "+addr)
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
	stop := func() {
		in.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	ready := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		ready <- l
	}()
	select {
	case l := <-ready:
		if l != "ready\n" {
			stop()
			b.Fatalf("client subprocess failed (%v)", cmd.ProcessState)
		}
	case <-time.After(30 * time.Second):
		stop()
		b.Fatal("client subprocess not ready in 30s")
	}
	return stop
}

// BenchmarkIdleConnections measures what the endpoint holds per idle
// device, the devices in another process: a kept-alive HTTP connection
// after one POST, a device long-polling for commands (its two
// connections, one waiting), and a WebSocket.
func BenchmarkIdleConnections(b *testing.B) {
	for _, kind := range []string{"http", "longpoll", "ws"} {
		b.Run(kind, func(b *testing.B) {
			for b.Loop() {
				before := footprint.Take(b)
				ep, err := endpoint.Start(endpoint.Options{})
				if err != nil {
					b.Fatal(err)
				}
				stop := fleet(b, kind, ep.Addr())
				after := footprint.Take(b)
				after.ReportPer(b, before, idleConns, "device")
				stop()
				ep.Close()
			}
		})
	}
}
