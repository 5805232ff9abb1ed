//go:build !unix

package netem

import "net"

// tryWriteTCP takes nothing here: callers fall back to Write.
func tryWriteTCP(net.Conn, []byte) (int, error) { return 0, nil }
