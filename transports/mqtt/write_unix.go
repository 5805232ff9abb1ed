//go:build unix

package mqtt

import (
	"net"
	"os"
	"sync"
	"syscall"
)

// rawWrite is one TryWrite's state. It is pooled with its callback bound
// once, so a write allocates nothing.
type rawWrite struct {
	b   []byte
	n   int
	err error
	f   func(fd uintptr) bool
}

var rawWrites = sync.Pool{New: func() any { w := &rawWrite{}; w.f = w.write; return w }}

func (w *rawWrite) write(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), w.b[w.n:])
		if n > 0 {
			w.n += n
		}
		switch err {
		case nil:
			// A short write means the socket buffer is full: asking
			// again would only return EAGAIN.
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return true
		}
		w.err = os.NewSyscallError("write", err)
		return true
	}
}

// rawTryWrite writes what a socket takes of b with non-blocking write(2)
// calls made through its syscall.RawConn. The callback always reports
// done, so Go never parks the caller waiting for the socket to drain.
func rawTryWrite(rc syscall.RawConn, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	w := rawWrites.Get().(*rawWrite)
	w.b, w.n, w.err = b, 0, nil
	err := rc.Write(w.f)
	n := w.n
	if err == nil {
		err = w.err
	}
	w.b, w.err = nil, nil
	rawWrites.Put(w)
	return n, err
}

// rawConn returns a *net.TCPConn's syscall.RawConn for non-blocking
// writes. Only the exact type: a wrapper embedding *net.TCPConn would have
// its own Write bypassed through the promoted SyscallConn.
func rawConn(conn net.Conn) syscall.RawConn {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
