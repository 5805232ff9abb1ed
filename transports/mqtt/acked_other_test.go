//go:build !linux

package mqtt_test

import "net"

// peerHasAll cannot tell where there is no TCP_INFO: it says yes.
func peerHasAll(net.Conn) bool { return true }
