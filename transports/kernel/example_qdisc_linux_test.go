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

// Devices 0-99 share a 250 kbit/s uplink, an HTB class in the kernel;
// rate alone needs no sch_netem. It needs root, so it is compiled but
// not run by go test.
func ExampleOpenQdisc() {
	cell := netem.Link{Up: netem.Profile{Rate: 250_000}}
	q, err := kernel.OpenQdisc(kernel.QdiscConfig{Groups: []kernel.QdiscGroup{{First: 0, Count: 100, Link: cell}}})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	ln, err := q.Listen("tcp4", net.JoinHostPort(q.ServerAddr().String(), "0"))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := q.Dialer(7)(ctx, "tcp4", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("device 7 dials from", c.LocalAddr().(*net.TCPAddr).IP)
}
