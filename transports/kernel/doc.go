// Package kernel moves link shaping into the kernel's packet path: a
// userspace netem wire between two network namespaces, so the kernel's
// own TCP and UDP stacks meet the delay, loss and rate (retransmissions,
// congestion window and RTO come from the kernel), and every device dials
// from an address of its own. Linux only, as root (CAP_NET_ADMIN and
// CAP_SYS_ADMIN, for setns and the namespace bind mounts); elsewhere Open
// returns ErrNeedsLinux.
//
// # Design
//
//	 device namespace m2m-PID-N-dev          server namespace m2m-PID-N-srv
//	+-------------------------------+       +-------------------------------+
//	| device sockets bound to       |       | servers listening on          |
//	| 10.77.0.1, 10.77.0.2, ...     |       | 10.78.0.1 (tun-srv)           |
//	| local 10.77.0.0/16 dev lo     |       | 10.77.0.0/16 dev tun-srv      |
//	| 10.78.0.0/24 dev tun-dev      |       |                               |
//	+----------- tun-dev -----------+       +----------- tun-srv -----------+
//	             |  fd                                    |  fd
//	             v                                        ^
//	  m2msim (root namespace): read IP packet -> device by its 10.77 address
//	  -> that device's netem.Path (Up, or Down the other way) -> write to the
//	  other TUN when due (one due-time queue per shard, no goroutine per packet)
//
// Open creates both namespaces (named, bind-mounted under /run/netns so
// that `ip netns exec` and subprocesses can join them), opens a TUN device
// inside each (non-persistent: it vanishes when m2msim's fd closes), and
// configures them through netlink: loopback and TUN up, the server's
// address, routes. The device side has no per-device addresses at all: a
// local route for the whole range on lo (the kernel's "AnyIP") makes every
// address in it local, so device i binds to the i-th host of the range.
//
// Sockets: Dialer and ListenPacket create the socket on a locked OS thread
// switched into the device namespace, switch back, and bind and connect
// from there: the socket stays in the namespace, and every protocol works
// unchanged through the dial.Func seam. Listen and ListenPacketServer do
// the same in the server namespace; Start runs a subprocess (a broker) in
// it.
//
// # Kernel qdiscs
//
// OpenQdisc makes the same two namespaces, with the same socket API, but
// joins them with a veth pair and lets the kernel shape: on each end's
// egress an HTB root, one class per group of devices (or per device)
// chosen by u32 filters on the device's address, and a netem qdisc
// below each class for delay and loss. Rate alone needs only HTB, so it
// works on kernels without sch_netem; NetemAvailable says whether the
// rest can, and QdiscUnsupported which options only the wire models.
//
// # What changes on the host
//
// Nothing outside the two namespaces, except their two bind-mount files
// /run/netns/m2m-PID-N-dev and -srv (and the /run/netns directory, if it
// did not exist). No host interface, address, route, sysctl or firewall
// rule is touched. Close removes both files and closes the TUN fds, which
// deletes the TUNs; the namespaces then go when their last socket closes.
// A run that was killed leaves the two files behind: Open removes every
// /run/netns/m2m-PID-* whose PID is no longer alive.
package kernel
