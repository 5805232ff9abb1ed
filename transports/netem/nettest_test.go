package netem

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair() (net.Conn, net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	c2 := <-acc
	if c2 == nil {
		c1.Close()
		return nil, nil, net.ErrClosed
	}
	return c1, c2, nil
}

// makeShapedPipe shapes both ends of pair with l.
func makeShapedPipe(pair func() (net.Conn, net.Conn, error), l Link) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		a, b, err := pair()
		if err != nil {
			return nil, nil, nil, err
		}
		s := NewShaper(2)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		c1, c2 = s.Conn(a, l, 1, 0), s.Conn(b, l, 1, 1)
		return c1, c2, func() {
			c1.Close()
			c2.Close()
			cancel()
			<-done
		}, nil
	}
}

// Every shaped conn passes x/net's net.Conn conformance suite: with a
// zero Link (pass-through), and with a small delay on both directions of
// both ends (the queueing paths).
func TestConnConformance(t *testing.T) {
	pipe := func() (net.Conn, net.Conn, error) { a, b := net.Pipe(); return a, b, nil }
	delayed := Link{Up: Profile{Delay: time.Millisecond}, Down: Profile{Delay: time.Millisecond, Jitter: 500 * time.Microsecond}}
	for _, tt := range []struct {
		name string
		pair func() (net.Conn, net.Conn, error)
		l    Link
	}{
		{"Pipe/zero", pipe, Link{}},
		{"TCP/zero", tcpPair, Link{}},
		{"Pipe/delay", pipe, delayed},
		{"TCP/delay", tcpPair, delayed},
	} {
		t.Run(tt.name, func(t *testing.T) { nettest.TestConn(t, makeShapedPipe(tt.pair, tt.l)) })
	}
}
