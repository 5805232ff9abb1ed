package kernel

import (
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TCPStats returns the kernel's own figures for a TCP connection (one a
// Wire's Dialer made, or any *net.TCPConn): TCP_INFO's retransmissions
// and smoothed RTT.
func TCPStats(c syscall.Conn) (TCPInfo, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return TCPInfo{}, fmt.Errorf("kernel: tcp info: %w", err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return TCPInfo{}, fmt.Errorf("kernel: tcp info: %w", err)
	}
	if ierr != nil {
		return TCPInfo{}, fmt.Errorf("kernel: tcp info: %w", ierr)
	}
	return TCPInfo{
		TotalRetrans: info.Total_retrans,
		RTT:          time.Duration(info.Rtt) * time.Microsecond,
		RTTVar:       time.Duration(info.Rttvar) * time.Microsecond,
	}, nil
}
