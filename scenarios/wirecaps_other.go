//go:build !linux

package scenarios

import "syscall"

// hasWireCaps is false: the wire needs Linux.
func hasWireCaps() bool { return false }

// serverProcAttr has nothing to add here.
func serverProcAttr() *syscall.SysProcAttr { return nil }
