//go:build !linux

package scenarios

// hasWireCaps is false: the wire needs Linux.
func hasWireCaps() bool { return false }
