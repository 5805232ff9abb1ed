package dial

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// echoUDP answers every datagram with the sender's address, so a test
// sees which source port a datagram left from.
func echoUDP(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(from.String()), from)
		}
	}()
	return pc.LocalAddr().String()
}

// roundTrip sends one datagram and returns the address the server saw.
func roundTrip(t *testing.T, c net.Conn) string {
	t.Helper()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

func TestNATRebindsAfterIdle(t *testing.T) {
	addr := echoUDP(t)
	var rebinds atomic.Int64
	var d net.Dialer
	c, err := NAT(d.DialContext, 150*time.Millisecond, func() { rebinds.Add(1) })(t.Context(), "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first := roundTrip(t, c)
	if again := roundTrip(t, c); again != first {
		t.Errorf("within the idle time the server saw %s then %s, want the same source", first, again)
	}
	time.Sleep(200 * time.Millisecond) // past the NAT's binding timeout
	after := roundTrip(t, c)
	if after == first || c.LocalAddr().String() != after {
		t.Errorf("after idle the server saw %s (before %s), local address %s: want a new source port, the conn's own",
			after, first, c.LocalAddr())
	}
	if n := rebinds.Load(); n != 1 {
		t.Errorf("rebound %d times, want 1", n)
	}
}

// A read blocked on the old socket carries on on the new one.
func TestNATReadFollowsTheRebinding(t *testing.T) {
	addr := echoUDP(t)
	var d net.Dialer
	c, err := NAT(d.DialContext, 100*time.Millisecond, nil)(t.Context(), "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string(buf[:n])
	}()
	time.Sleep(150 * time.Millisecond)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != c.LocalAddr().String() {
			t.Errorf("the waiting read got %q, want the echo to the new socket %s", s, c.LocalAddr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read waiting on the old socket never returned")
	}
}

func TestNATClosedReadEnds(t *testing.T) {
	addr := echoUDP(t)
	var d net.Dialer
	c, err := NAT(d.DialContext, time.Hour, nil)(t.Context(), "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Read after Close = nil error, want one")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not end on Close")
	}
}

func TestNATLeavesTCPAlone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var d net.Dialer
	c, err := NAT(d.DialContext, time.Millisecond, nil)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("NAT over tcp gave %T, want the dialer's own *net.TCPConn", c)
	}
}
