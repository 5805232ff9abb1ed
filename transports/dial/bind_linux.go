package dial

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT on TCP sockets bound to a source
// address, so the kernel picks the ephemeral port at connect() from the
// whole 4-tuple rather than at bind(). Without it every bind searches for
// a port free of all destinations, a search that grows with the ports in
// use: at 10,000 connections from one address it burned both cores in the
// kernel and stalled the schedule for seconds. It also lets one port serve
// several destinations.
func bindNoPort(network, _ string, c syscall.RawConn) error {
	if !strings.HasPrefix(network, "tcp") {
		return nil
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
