package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/m2msim/m2msim/transports/dial"
)

// Dialer returns a dial.Func whose sockets live in the device namespace,
// bound to device i's address: tcp4 (tcp) and udp4 (udp) to IPv4
// addresses. Only the socket's creation happens on a thread inside the
// namespace; bind, connect and all I/O run on ordinary goroutines.
func (w *Wire) Dialer(device int) dial.Func {
	src, err := w.DeviceAddr(device)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err != nil {
			return nil, err
		}
		return w.dial(ctx, src, network, addr)
	}
}

// ListenPacket returns an unconnected UDP socket in the device namespace
// bound to device i's address and port (0: any).
func (w *Wire) ListenPacket(device, port int) (net.PacketConn, error) {
	src, err := w.DeviceAddr(device)
	if err != nil {
		return nil, err
	}
	fd, err := w.socket(w.devNS, unix.SOCK_DGRAM)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(src, uint16(port)))); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("kernel: bind %s:%d: %w", src, port, err)
	}
	f := os.NewFile(uintptr(fd), "udp "+src.String())
	defer f.Close()
	return net.FilePacketConn(f)
}

// Listen opens a listener (tcp, tcp4, udp... as net.Listen) inside the
// server namespace, e.g. on ServerAddr():port.
func (w *Wire) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := inNS(w.srvNS, func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kernel: listen in %s: %w", w.srvName, err)
	}
	return l, nil
}

// ListenPacketServer opens a datagram socket inside the server namespace.
func (w *Wire) ListenPacketServer(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := inNS(w.srvNS, func() (err error) {
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kernel: listen in %s: %w", w.srvName, err)
	}
	return pc, nil
}

// Start starts cmd (a broker, say) inside the server namespace: the fork
// happens on a thread switched into it, and the child keeps it. The caller
// waits for cmd and stops it by its PID, as with exec.Cmd.Start.
func (w *Wire) Start(cmd *exec.Cmd) error {
	if err := inNS(w.srvNS, cmd.Start); err != nil {
		return fmt.Errorf("kernel: start %s in %s: %w", cmd.Path, w.srvName, err)
	}
	return nil
}

// socket creates a non-blocking IPv4 socket inside ns.
func (w *Wire) socket(ns netns.NsHandle, sotype int) (int, error) {
	fd := -1
	err := inNS(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("kernel: socket: %w", err)
	}
	return fd, nil
}

func (w *Wire) dial(ctx context.Context, src netip.Addr, network, addr string) (net.Conn, error) {
	sotype, err := sockType(network)
	if err != nil {
		return nil, err
	}
	dst, err := netip.ParseAddrPort(addr)
	if err != nil || !dst.Addr().Is4() {
		return nil, fmt.Errorf("kernel: dial %s: want an IPv4 address:port", addr)
	}
	fd, err := w.socket(w.devNS, sotype)
	if err != nil {
		return nil, err
	}
	if sotype == unix.SOCK_STREAM {
		// The ephemeral port is chosen at connect from the whole 4-tuple
		// (see dial.SourcePool).
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	}
	if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(src, 0))); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("kernel: dial %s from %s: bind: %w", addr, src, err)
	}
	f := os.NewFile(uintptr(fd), network+" "+src.String())
	defer f.Close()
	if err := connect(ctx, f, fd, dst); err != nil {
		return nil, fmt.Errorf("kernel: dial %s from %s: %w", addr, src, err)
	}
	return net.FileConn(f)
}

// connect connects the non-blocking socket fd (wrapped in f, so the
// runtime's poller waits for it) to dst, bounded by ctx.
func connect(ctx context.Context, f *os.File, fd int, dst netip.AddrPort) error {
	err := unix.Connect(fd, sockaddr(dst))
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINPROGRESS) {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		f.SetWriteDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	// RawWrite resets the poller's readiness before its first call, so
	// the callback must check the socket itself each time: a connection
	// that completed before the reset sends no further edge.
	var soerr error
	werr := rc.Write(func(fd uintptr) bool {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			soerr = err
			return true
		case v != 0 && v != int(unix.EINPROGRESS) && v != int(unix.EALREADY) && v != int(unix.EINTR):
			soerr = unix.Errno(v)
			return true
		}
		_, err = unix.Getpeername(int(fd))
		return err == nil
	})
	if werr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return werr
	}
	f.SetWriteDeadline(time.Time{})
	return soerr
}

func sockType(network string) (int, error) {
	switch strings.TrimSuffix(network, "4") {
	case "tcp":
		return unix.SOCK_STREAM, nil
	case "udp":
		return unix.SOCK_DGRAM, nil
	}
	return 0, fmt.Errorf("kernel: dial: network %q: want tcp, tcp4, udp or udp4", network)
}

func sockaddr(ap netip.AddrPort) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
}
