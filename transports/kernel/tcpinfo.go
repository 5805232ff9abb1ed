package kernel

import "time"

// TCPInfo is what TCPStats reads from the kernel for one connection.
type TCPInfo struct {
	// TotalRetrans is tcpi_total_retrans: segments retransmitted over the
	// connection's life.
	TotalRetrans uint32
	// RTT and RTTVar are tcpi_rtt and tcpi_rttvar, the smoothed round
	// trip and its variation.
	RTT, RTTVar time.Duration
}
