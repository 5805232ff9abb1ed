package mqtt_test

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerHasAll reports whether the peer's kernel has acknowledged every
// byte written to c, and so has received (and timestamped) them all.
func peerHasAll(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return true
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return true
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
		return true
	}
	return info.Unacked == 0
}
