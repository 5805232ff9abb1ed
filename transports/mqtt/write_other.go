//go:build !unix

package mqtt

import (
	"net"
	"syscall"
)

// rawConn offers no non-blocking write here: writes to a TCP conn go
// through the flusher goroutine.
func rawConn(net.Conn) syscall.RawConn { return nil }

func rawTryWrite(syscall.RawConn, []byte) (int, error) { panic("unreachable: rawConn is nil") }
