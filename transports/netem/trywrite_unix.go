//go:build unix

package netem

import (
	"net"
	"os"
	"syscall"
)

// tryWriteTCP writes what a *net.TCPConn's socket takes of b with
// non-blocking write(2) calls through its syscall.RawConn; the callback
// always reports done, so Go never parks the caller. Other conns take
// nothing.
func tryWriteTCP(c net.Conn, b []byte) (int, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok || len(b) == 0 {
		return 0, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for {
			k, e := syscall.Write(int(fd), b[n:])
			if k > 0 {
				n += k
			}
			switch e {
			case nil, syscall.EAGAIN:
				return true
			case syscall.EINTR:
				continue
			}
			werr = os.NewSyscallError("write", e)
			return true
		}
	})
	if err == nil {
		err = werr
	}
	return n, err
}
