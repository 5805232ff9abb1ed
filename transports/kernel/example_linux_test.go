package kernel_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/m2msim/m2msim/transports/kernel"
	"github.com/m2msim/m2msim/transports/netem"
)

// A device dials a server in the server namespace through 100 ms each
// way; the kernel's TCP sees the delay. It needs root, so it is compiled
// but not run by go test.
func Example() {
	d := netem.Profile{Delay: 100 * time.Millisecond}
	w, err := kernel.Open(kernel.Config{Link: func(int) netem.Link { return netem.Link{Up: d, Down: d} }})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	ln, err := w.Listen("tcp4", net.JoinHostPort(w.ServerAddr().String(), "0"))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			fmt.Println("server sees", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	start := time.Now()
	c, err := w.Dialer(4)(ctx, "tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("connected after", time.Since(start).Round(100*time.Millisecond))
	info, _ := kernel.TCPStats(c.(*net.TCPConn))
	fmt.Println("kernel RTT at least 200 ms:", info.RTT >= 200*time.Millisecond)
}
