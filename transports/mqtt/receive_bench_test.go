//go:build unix

package mqtt_test

import (
	"context"
	"encoding/binary"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
)

// publishPeer is a broker stand-in for BenchmarkBackendReceive: after the
// handshake it writes pre-encoded QoS 1 PUBLISHes as fast as the client
// reads them and discards the acknowledgements. It writes with sendmsg(2)
// and reads with recvfrom(2), so that `perf stat -e
// 'syscalls:sys_enter_*'` or `strace -c -f` tells the client's read(2),
// recvmsg(2) and write(2) calls from its own.
type publishPeer struct {
	ln   net.Listener
	stop atomic.Bool
	done chan struct{}
}

func startPublishPeer(b *testing.B, topic string, payload []byte) *publishPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &publishPeer{ln: ln, done: make(chan struct{})}
	// 64 KiB of QoS 1 PUBLISHes, ids 1, 2, ...
	var chunk []byte
	for id := uint16(1); len(chunk) < 64<<10; id++ {
		rl := 2 + len(topic) + 2 + len(payload)
		chunk = append(chunk, 0x32)
		for ; rl > 127; rl >>= 7 {
			chunk = append(chunk, byte(rl&0x7f|0x80))
		}
		chunk = append(chunk, byte(rl))
		chunk = binary.BigEndian.AppendUint16(chunk, uint16(len(topic)))
		chunk = append(chunk, topic...)
		chunk = binary.BigEndian.AppendUint16(chunk, id)
		chunk = append(chunk, payload...)
	}
	go p.serve(chunk)
	return p
}

func (p *publishPeer) serve(chunk []byte) {
	defer close(p.done)
	c, err := p.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	readPacket(c) // CONNECT
	c.Write([]byte{0x20, 2, 0, 0})
	sub := readPacket(c)
	c.Write([]byte{0x90, 3, sub[2], sub[3], 1})
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return
	}
	go func() { // discard acknowledgements
		buf := make([]byte, 64<<10)
		for {
			var rerr error
			n := 0
			err := rc.Read(func(fd uintptr) bool {
				n, _, rerr = syscall.Recvfrom(int(fd), buf, 0)
				return rerr != syscall.EAGAIN
			})
			if err != nil || rerr != nil || n == 0 {
				return
			}
		}
	}()
	for off := 0; !p.stop.Load(); {
		var n int
		var werr error
		err := rc.Write(func(fd uintptr) bool {
			n, werr = syscall.SendmsgN(int(fd), chunk[off:], nil, nil, 0)
			return werr != syscall.EAGAIN
		})
		if err != nil || werr != nil {
			return
		}
		off = (off + n) % len(chunk)
	}
}

func (p *publishPeer) close() {
	p.stop.Store(true)
	p.ln.Close()
	<-p.done
}

// BenchmarkBackendReceive is a Backend connection's inbound path: framing,
// decoding, routing and acknowledging QoS 1 telemetry that arrives faster
// than it is read. One op is one message.
func BenchmarkBackendReceive(b *testing.B) {
	peer := startPublishPeer(b, "devices/000123/telemetry", make([]byte, 64))
	defer peer.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := mqtt.BackendOptions{Options: mqtt.Options{Addr: peer.ln.Addr().String(), ClientID: "bench", CleanSession: true}}
	be, err := mqtt.DialBackend(ctx, o, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	var n, target atomic.Int64
	var fired atomic.Bool
	target.Store(1 << 62)
	done := make(chan struct{})
	deliver := func(string, []byte, time.Time) {
		if n.Add(1) >= target.Load() && fired.CompareAndSwap(false, true) {
			close(done)
		}
	}
	if err := be.Subscribe(ctx, []mqtt.Subscription{{Topic: "devices/+/telemetry", QoS: 1}}, deliver); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	target.Store(n.Load() + int64(b.N))
	<-done
	b.StopTimer()
}
