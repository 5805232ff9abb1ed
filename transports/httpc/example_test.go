package httpc_test

import (
	"context"
	"fmt"
	"time"

	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/httpc"
)

// A device posts a reading to m2msim's endpoint over a kept-alive
// connection and takes a command by long poll.
func Example() {
	ep, err := endpoint.Start(endpoint.Options{})
	if err != nil {
		panic(err)
	}
	defer ep.Close()
	ep.OnDeliver(func(path string, body []byte, _ time.Time) { fmt.Printf("endpoint got %s %s\n", path, body) })

	s, err := httpc.Dial(context.Background(), httpc.Options{Addr: ep.Addr(), KeepAlive: true,
		Status: func(st httpc.Status) { fmt.Println("status", st.Metric()) }})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	s.Start(httpc.Request{Method: "POST", Target: "/telemetry/d1", Body: []byte(`{"t":21.5}`), ContentType: "application/json"},
		func(_ httpc.Response, err error) { done <- err })
	fmt.Println("posted:", <-done)

	cmd := make(chan string, 1)
	ep.Push("/commands/d1", []byte(`{"cmd":"reboot"}`))
	s.StartPolling(httpc.Poll{Path: "/commands/d1", Wait: 5 * time.Second}, func(p []byte) { cmd <- string(p) })
	fmt.Println("command:", <-cmd)
	// Output:
	// endpoint got /telemetry/d1 {"t":21.5}
	// status http_204
	// posted: <nil>
	// status http_200
	// command: {"cmd":"reboot"}
}
