package netem

import (
	"context"
	"io"
	"math"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/tcptest"
	"github.com/m2msim/m2msim/transports/dial"
)

var fiftyEachWay = Link{Up: Profile{Delay: 50 * time.Millisecond}, Down: Profile{Delay: 50 * time.Millisecond}}

// medianRTT times n round trips of ping, returning the median.
func medianRTT(t *testing.T, n int, ping func() error) time.Duration {
	t.Helper()
	rtts := make([]time.Duration, n)
	for i := range rtts {
		start := time.Now()
		if err := ping(); err != nil {
			t.Fatalf("round trip %d: %v", i, err)
		}
		rtts[i] = time.Since(start)
	}
	slices.Sort(rtts)
	return rtts[n/2]
}

// checkRTT wants the median round trip within 100 ms +5%: the two
// shaped delays plus loopback's microseconds.
func checkRTT(t *testing.T, what string, rtt time.Duration) {
	t.Helper()
	if rtt < 100*time.Millisecond || rtt > 105*time.Millisecond {
		t.Errorf("%s: median RTT %v, want 100ms..105ms", what, rtt)
	}
}

func TestLoopbackUDPEcho(t *testing.T) {
	srv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			srv.WriteTo(buf[:n], from)
		}
	}()
	s := NewShaper(1)
	defer runShaper(t, s)()
	var d net.Dialer
	c, err := s.Dialer(d.DialContext, fiftyEachWay, 1, 0)(t.Context(), "udp", srv.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	rtt := medianRTT(t, 11, func() error {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		_, err := c.Read(buf)
		return err
	})
	checkRTT(t, "UDP echo through 50ms each way", rtt)
}

func TestLoopbackTCPEcho(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcptest.Serve(t, ln, func(c net.Conn) { go func() { io.Copy(c, c); c.Close() }() })
	s := NewShaper(1)
	defer runShaper(t, s)()
	dialer := s.Dialer(dial.SourcePool(nil), fiftyEachWay, 1, 0)
	// The handshake's shortest of five: one dial on a busy machine can be
	// late by a scheduling delay that has nothing to do with the link.
	var c net.Conn
	handshake := time.Duration(math.MaxInt64)
	for range 5 {
		start := time.Now()
		cc, err := dialer(t.Context(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		handshake = min(handshake, time.Since(start))
		if c != nil {
			c.Close()
		}
		c = cc
	}
	defer c.Close()
	checkRTT(t, "TCP handshake through 50ms each way", handshake)
	buf := make([]byte, 4)
	rtt := medianRTT(t, 11, func() error {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		_, err := io.ReadFull(c, buf)
		return err
	})
	checkRTT(t, "TCP echo through 50ms each way", rtt)
}

// A shaped conn's reader waits with deadlines, not goroutines: a fleet
// of shaped conns adds only the shard goroutines.
func TestNoGoroutinePerConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 64)
	tcptest.Serve(t, ln, func(c net.Conn) { accepted <- c })
	s := NewShaper(2)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	before := goroutines()
	var conns []net.Conn
	for i := range 50 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		sc := s.Conn(c, fiftyEachWay, 1, i)
		sc.Write([]byte("x"))
		conns = append(conns, sc)
	}
	if after := goroutines(); after > before+2 {
		t.Errorf("goroutines %d -> %d for 50 shaped conns, want no more per conn", before, after)
	}
	for _, c := range conns {
		c.Close()
		(<-accepted).Close()
	}
}
