package mqtt

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// newArrivalReader reads a TCP connection with recvmsg(2) and the kernel's
// receive timestamps (SO_TIMESTAMPNS), so a message's arrival excludes the
// time it waited in the socket for the reader goroutine: behind a busy
// reader, that wait is m2msim's own delay, not the system's under test.
// Other conns, or a kernel that refuses the option, get the time the read
// returned.
func newArrivalReader(conn net.Conn) arrivalReader {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return &clockReader{r: conn}
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return &clockReader{r: conn}
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	})
	if err != nil || serr != nil {
		return &clockReader{r: conn}
	}
	r := &stampReader{}
	r.msg.Iov = &r.iov
	r.msg.Iovlen = 1
	r.init(rc, "recvmsg", r.recvmsg)
	return r
}

// stampReader is one connection's recvmsg state, allocated once so that a
// read allocates nothing. Only the reading goroutine uses it.
type stampReader struct {
	rawReader
	msg syscall.Msghdr
	iov syscall.Iovec
	oob [8]uint64 // control messages, 8-byte aligned; one timestamp needs 32 bytes
	at  time.Time
}

// recvmsg reads into b with the receive time of its newest byte.
func (r *stampReader) recvmsg(fd uintptr, b []byte) (uintptr, syscall.Errno) {
	r.iov.Base = &b[0]
	r.iov.SetLen(len(b))
	r.msg.Control = (*byte)(unsafe.Pointer(&r.oob[0]))
	r.msg.SetControllen(len(r.oob) * 8)
	r.msg.Flags = 0
	n, _, errno := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), 0)
	r.iov.Base = nil
	if errno == 0 {
		r.at = r.stamp()
	}
	return n, errno
}

func (r *stampReader) arrived() time.Time { return r.at }

// stamp finds SCM_TIMESTAMPNS among the control messages, falling back to
// now.
func (r *stampReader) stamp() time.Time {
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&r.oob[0])), min(int(r.msg.Controllen), len(r.oob)*8))
	data := cmsgAlign(syscall.SizeofCmsghdr)
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < syscall.SizeofCmsghdr || l > len(oob) {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS &&
			l >= data+int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[data]))
			return time.Unix(ts.Unix())
		}
		oob = oob[min(cmsgAlign(l), len(oob)):]
	}
	return time.Now()
}

// cmsgAlign is the kernel's CMSG_ALIGN.
func cmsgAlign(n int) int {
	const a = int(unsafe.Sizeof(uintptr(0)))
	return (n + a - 1) &^ (a - 1)
}
