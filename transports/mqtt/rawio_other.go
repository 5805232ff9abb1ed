//go:build !unix

package mqtt

import (
	"net"
	"syscall"
)

// rawConn offers no non-blocking I/O here: writes to a TCP conn go
// through the flusher goroutine.
func rawConn(net.Conn) syscall.RawConn { return nil }

func rawTryWrite(syscall.RawConn, []byte) (int, error) { panic("unreachable: rawConn is nil") }

// rawReader is never made here: reads go through the conn.
type rawReader struct{}

func newRawReader(syscall.RawConn) *rawReader { return nil }

func (*rawReader) Read([]byte) (int, error) { panic("unreachable: rawConn is nil") }
