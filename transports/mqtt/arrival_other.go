//go:build !linux

package mqtt

import "net"

// newArrivalReader stamps reads with the time they return.
func newArrivalReader(conn net.Conn) arrivalReader { return &clockReader{r: conn} }
