//go:build unix

package mqtt

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Device and backend sockets are non-blocking, so their read(2), write(2)
// and recvmsg(2) return at once; they are made with syscall.RawSyscall,
// which skips the scheduler's entersyscall/exitsyscall. With the ordinary
// wrapper every call wakes the runtime's sysmon thread out of its deep
// sleep whenever the process had gone idle, and on loopback a write that
// runs the broker's receive path (tens of µs) gets its P handed off to
// another thread: at 5,000 messages a second both were a fifth of
// m2msim's CPU (bench/cpu-per-message).

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
		b := w.b[w.n:]
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch errno {
		case 0:
			// A short write means the socket buffer is full: asking
			// again would only return EAGAIN.
			w.n += int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return true
		}
		w.err = os.NewSyscallError("write", errno)
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

// rawReader reads a socket through its RawConn with a raw read-like
// system call (read(2) for a device session, recvmsg(2) for the backend),
// parking in Go's poller while the socket is empty, as net.Conn's Read
// does, and honouring the conn's deadlines and Close the same way. Only
// the reading goroutine uses it.
type rawReader struct {
	rc  syscall.RawConn
	op  string                                              // the call's name, for errors
	sys func(fd uintptr, b []byte) (uintptr, syscall.Errno) // one call into b
	b   []byte
	n   int
	err error
	f   func(fd uintptr) bool
}

// newRawReader returns a read(2) reader for rc; nil when rc is nil.
func newRawReader(rc syscall.RawConn) *rawReader {
	if rc == nil {
		return nil
	}
	r := &rawReader{}
	r.init(rc, "read", sysRead)
	return r
}

func (r *rawReader) init(rc syscall.RawConn, op string, sys func(fd uintptr, b []byte) (uintptr, syscall.Errno)) {
	r.rc, r.op, r.sys = rc, op, sys
	r.f = r.call
}

func sysRead(fd uintptr, b []byte) (uintptr, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return n, errno
}

func (r *rawReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.b, r.n, r.err = b, 0, nil
	err := r.rc.Read(r.f)
	r.b = nil
	switch {
	case err != nil:
		return 0, err
	case r.err != nil:
		return 0, r.err
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// call makes one call; false asks the poller to wait for data.
func (r *rawReader) call(fd uintptr) bool {
	for {
		n, errno := r.sys(fd, r.b)
		switch errno {
		case 0:
			r.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.err = os.NewSyscallError(r.op, errno)
		return true
	}
}
