// Package tcptest serves test listeners: the accept loop that tests of
// dialers, links and protocols would otherwise each write again.
package tcptest

import (
	"net"
	"testing"
)

// Serve calls handle for each connection ln accepts, one after another on
// one goroutine (handle starts its own for work that must not hold up
// the next accept), until ln is closed. The test's cleanup closes ln and
// waits for the loop to end.
func Serve(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
}
