package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

// maxPacket is the largest packet a TUN read returns (its MTU is 1500;
// the slack covers a larger MTU set by hand).
const maxPacket = 65535

// forward reads packets from tun until ctx ends and hands each to its
// device's Path in direction d: Up packets belong to their source
// address, Down packets to their destination.
func (w *Wire) forward(ctx context.Context, tun *os.File, d netem.Direction) error {
	stop := context.AfterFunc(ctx, func() { tun.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, maxPacket)
	for {
		n, err := tun.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("kernel: read %s: %w", tun.Name(), err)
		}
		p := w.path(buf[:n], d)
		if p == nil {
			w.dropped.Add(1)
			continue
		}
		if err := p.Send(d, buf[:n]); errors.Is(err, netem.ErrStopped) {
			return nil
		}
	}
}

// blackhole is the profile of a device whose Link is invalid: it loses
// every packet (counted as dropped), so the mistake shows in Stats rather
// than as an unshaped device.
var blackhole = netem.Profile{Loss: netem.Loss{P: 100}}

// path finds the Path of the device a packet belongs to, creating it on
// the device's first packet; nil when the packet belongs to none.
func (w *Wire) path(pkt []byte, d netem.Direction) *netem.Path {
	src, dst, ok := ipv4Addrs(pkt)
	if !ok {
		return nil
	}
	a := src
	if d == netem.Down {
		a = dst
	}
	i, ok := hostIndex(w.cfg.Devices, a)
	if !ok {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.paths[i]; p != nil {
		return p
	}
	var l netem.Link
	if w.cfg.Link != nil {
		l = w.cfg.Link(i)
	}
	if l.Validate() != nil {
		l = netem.Link{Up: blackhole, Down: blackhole}
	}
	p := w.shaper.Path(l, w.cfg.Seed, i, w.emit)
	w.paths[i] = p
	return p
}

// emit writes a due packet to the TUN on the far side of its direction.
// A TUN write hands the packet to the namespace's stack and does not
// block; a failed write loses the packet, as a link would.
func (w *Wire) emit(d netem.Direction, pkt []byte) {
	tun := w.srvTUN
	if d == netem.Down {
		tun = w.devTUN
	}
	tun.Write(pkt)
}
