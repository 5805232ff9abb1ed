package kernel

import (
	"encoding/binary"
	"net"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

// Figures of BenchmarkWire's harness.
const (
	benchDevices = 1000
	benchDelay   = 50 * time.Millisecond
	benchPeriod  = 100 * time.Millisecond
)

// BenchmarkWire sends UDP datagrams from 1,000 devices, each from its own
// address, one every 100 ms per device (10,000 packets/s), through the
// wire at a fixed 50 ms uplink delay to a server in the server namespace.
// It reports the added-delay error (measured one-way time minus 50 ms;
// the TUN hops and the receiver are included), the process's CPU per
// forwarded packet (senders and receiver included), and heap per device.
// The loopback sub-benchmark runs the same harness on 127.0.0.1 with no
// wire and no delay: the difference in CPU is the wire's.
func BenchmarkWire(b *testing.B) {
	b.Run("wire", func(b *testing.B) {
		up := netem.Profile{Delay: benchDelay, Limit: 10_000}
		w := runWire(b, Config{Link: func(int) netem.Link { return netem.Link{Up: up} }})
		srv, err := w.ListenPacketServer("udp4", net.JoinHostPort(w.ServerAddr().String(), "0"))
		if err != nil {
			b.Fatal(err)
		}
		benchUDP(b, srv, benchDelay, func(i int) (net.PacketConn, error) { return w.ListenPacket(i, 0) })
	})
	b.Run("loopback", func(b *testing.B) {
		srv, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		benchUDP(b, srv, 0, func(int) (net.PacketConn, error) { return net.ListenPacket("udp4", "127.0.0.1:0") })
	})
}

// benchUDP is BenchmarkWire's harness: benchDevices sockets from open
// send b.N timestamped datagrams to srv, paced; delay is subtracted from
// each one-way time.
func benchUDP(b *testing.B, srv net.PacketConn, delay time.Duration, open func(int) (net.PacketConn, error)) {
	defer srv.Close()
	// Room for the bursts a late wakeup of the shaper releases at once.
	srv.(*net.UDPConn).SetReadBuffer(8 << 20)
	dst := srv.LocalAddr()
	var heap0, heap1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heap0)
	conns := make([]net.PacketConn, benchDevices)
	for i := range conns {
		var err error
		if conns[i], err = open(i); err != nil {
			b.Fatal(err)
		}
		defer conns[i].Close()
	}
	epoch := time.Now()
	errs := make(chan []time.Duration, 1)
	total := b.N + benchDevices // one warm-up packet per device creates its Path
	go receive(srv, epoch, delay, total, errs)
	send := func(i int) {
		var msg [8]byte
		binary.LittleEndian.PutUint64(msg[:], uint64(time.Since(epoch)))
		conns[i%benchDevices].WriteTo(msg[:], dst)
	}
	pace(benchDevices, benchDevices, benchPeriod, send)
	time.Sleep(2*delay + 10*time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&heap1)
	cpu0 := cpuTime()
	b.ResetTimer()
	pace(b.N, benchDevices, benchPeriod, send)
	var lat []time.Duration
	select {
	case lat = <-errs:
	case <-time.After(10*time.Second + time.Duration(b.N)*benchPeriod/benchDevices):
		b.Fatal("the receiver did not finish")
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if len(lat) <= benchDevices {
		b.Fatalf("received %d of %d datagrams", len(lat), total)
	}
	lat = lat[benchDevices:]
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-err-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-err-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-µs/pkt")
	b.ReportMetric(float64(int64(heap1.HeapAlloc)-int64(heap0.HeapAlloc))/benchDevices, "B/device")
	b.ReportMetric(float64(total-len(lat)-benchDevices), "lost")
}

// pace calls send(k) for k in [0, n), n devices each every period: an
// open schedule that never slips, in 1 ms steps.
func pace(n, devices int, period time.Duration, send func(int)) {
	start := time.Now()
	perNS := float64(devices) / float64(period)
	for k := 0; k < n; {
		due := int(float64(time.Since(start)) * perNS)
		for ; k < n && k <= due; k++ {
			send(k)
		}
		time.Sleep(time.Millisecond)
	}
}

// receive reads the timestamped datagrams and sends their added-delay
// errors once it has n, or when no datagram came for 2 s.
func receive(pc net.PacketConn, epoch time.Time, delay time.Duration, n int, out chan<- []time.Duration) {
	lat := make([]time.Duration, 0, n)
	buf := make([]byte, 64)
	for len(lat) < n {
		pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			break
		}
		if k == 8 {
			sent := time.Duration(binary.LittleEndian.Uint64(buf))
			lat = append(lat, time.Since(epoch)-sent-delay)
		}
	}
	out <- lat
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
