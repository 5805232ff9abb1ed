//go:build !linux

package dial

import "syscall"

// bindNoPort is Linux-only; elsewhere the port is chosen at bind().
var bindNoPort func(network, address string, c syscall.RawConn) error
